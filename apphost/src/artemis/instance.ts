// Creates (once) and configures (on every start) an Artemis broker instance directory, and returns
// the command that runs it. `bin/artemis run` execs the JVM, so the spawned pid is the broker and
// SIGTERM stops it gracefully.

import { spawn } from "node:child_process";
import { pbkdf2Sync, randomBytes, timingSafeEqual } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { childEnvironment } from "../runtime/child-environment.js";
import type { ArtemisDistribution } from "./distribution.js";
import { artemisEtcFiles } from "./etc-files.js";
import { brokerRoles, type BrokerClient, type BrokerLogin } from "./security.js";
import type { ArtemisTopology } from "./topology.js";

export interface ArtemisInstanceOptions {
  distribution: ArtemisDistribution;
  instanceDir: string;
  user: string;
  password: string;
  /** Default "127.0.0.1". */
  host?: string;
  amqpPort: number;
  topology: ArtemisTopology;
  /** One user per client (service), each limited to what it uses; default none. */
  clients?: Array<BrokerClient & { password: string }>;
  /** Default 512. */
  javaMaxHeapMb?: number;
  log?: (line: string) => void;
}

export interface ArtemisLaunch {
  command: string;
  args: string[];
  /** Variables to add to the parent's environment (not a complete environment). */
  env: Record<string, string>;
  cwd: string;
}

/** Logged once the broker accepts connections ("Server is now active"). Match the code, not the text. */
export const ARTEMIS_READY_LOG_CODE = "AMQ221007";

const MIN_JAVA = 17;
/** Written last by a successful `artemis create`; without it the instance is (re)created. */
const CREATED_MARKER = ".outbox-apphost-instance";
const USER_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,63}$/;
const HOST_PATTERN = /^[A-Za-z0-9.:-]+$/;

function javaCommand(env: NodeJS.ProcessEnv): string {
  return env.JAVA_HOME ? join(env.JAVA_HOME, "bin", "java") : "java";
}

/** Major version from `java -version` output ("1.8.0_392" → 8, "17.0.15" → 17). */
export function parseJavaVersion(output: string): { major: number; version: string } | undefined {
  const m = /version "([^"]+)"/.exec(output);
  const version = m?.[1];
  if (!version) return undefined;
  const parts = version.split(/[.+_-]/).map((p) => Number(p));
  const major = parts[0] === 1 ? parts[1] : parts[0];
  if (major === undefined || !Number.isInteger(major)) return undefined;
  return { major, version };
}

export async function checkJava(
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ ok: true; version: string } | { ok: false; message: string }> {
  const java = javaCommand(env);
  const where = env.JAVA_HOME ? `JAVA_HOME=${env.JAVA_HOME}` : "PATH";
  const hint = `Artemis needs Java ${MIN_JAVA} or later: install a JDK/JRE ${MIN_JAVA}+ (e.g. apt-get install openjdk-17-jre-headless) and put it on PATH or set JAVA_HOME.`;
  const result = await new Promise<{ output: string; error?: string }>((done) => {
    let output = "";
    const child = spawn(java, ["-version"], { stdio: ["ignore", "pipe", "pipe"], env });
    child.stdout.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr.on("data", (d: Buffer) => (output += d.toString()));
    child.on("error", (err) => done({ output, error: err.message }));
    child.on("close", () => done({ output }));
  });
  if (result.error) return { ok: false, message: `No Java found via ${where} (${result.error}). ${hint}` };
  const parsed = parseJavaVersion(result.output);
  if (!parsed)
    return { ok: false, message: `Could not read the Java version from "${java} -version". ${hint}` };
  if (parsed.major < MIN_JAVA) {
    return { ok: false, message: `Java ${parsed.version} found via ${where} is too old. ${hint}` };
  }
  return { ok: true, version: parsed.version };
}

/** `<user> = ENC(<iterations>:<salt hex>:<hash hex>)`, the PBKDF2WithHmacSHA1 format Artemis' PropertiesLoginModule reads. */
export function hashArtemisPassword(
  password: string,
  salt: Buffer = randomBytes(32),
  iterations = 1024,
): string {
  const hash = pbkdf2Sync(password, salt, iterations, 64, "sha1");
  return `ENC(${iterations}:${salt.toString("hex").toUpperCase()}:${hash.toString("hex").toUpperCase()})`;
}

/** True when `stored` (plain or ENC(...)) is the given password. */
export function artemisPasswordMatches(stored: string, password: string): boolean {
  const m = /^ENC\((\d+):([0-9A-Fa-f]+):([0-9A-Fa-f]+)\)$/.exec(stored.trim());
  if (!m) return stored.trim() === password;
  const [, iterations, saltHex, hashHex] = m as unknown as [string, string, string, string];
  const expected = Buffer.from(hashHex, "hex");
  const actual = pbkdf2Sync(
    password,
    Buffer.from(saltHex, "hex"),
    Number(iterations),
    expected.length,
    "sha1",
  );
  return expected.length > 0 && timingSafeEqual(expected, actual);
}

/** Users file lines `name = value` (comments and blanks skipped). */
export function parseUsersFile(content: string): Map<string, string> {
  const users = new Map<string, string>();
  for (const raw of content.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith("#") || line.startsWith("!")) continue;
    const eq = line.indexOf("=");
    if (eq <= 0) continue;
    users.set(line.slice(0, eq).trim(), line.slice(eq + 1).trim());
  }
  return users;
}

/** The one network acceptor: AMQP for the services, CORE for the `artemis` CLI tools. */
export function renderAcceptor(host: string, port: number): string {
  const params = [
    "protocols=CORE,AMQP",
    "useEpoll=true",
    "tcpSendBufferSize=1048576",
    "tcpReceiveBufferSize=1048576",
    "amqpCredits=1000",
    "amqpLowCredits=300",
    "amqpMinLargeMessageSize=102400",
    // Needed for _AMQ_DUPL_ID: the broker must parse application properties.
    "amqpDuplicateDetection=true",
  ].join(";");
  const hostInUrl = host.includes(":") ? `[${host}]` : host;
  return `<acceptor name="artemis">tcp://${hostInUrl}:${String(port)}?${params}</acceptor>`;
}

/**
 * broker.xml with exactly one acceptor and no addresses (broker.properties declares them all, and
 * the stock catch-all DLQ queue would steal half of the per-address dead letters).
 */
export function rewriteBrokerXml(xml: string, host: string, port: number): string {
  const acceptors = /<acceptors>[\s\S]*?<\/acceptors>|<acceptors\s*\/>/;
  if (!acceptors.test(xml)) throw new Error("etc/broker.xml has no <acceptors> element to rewrite");
  let out = xml.replace(
    acceptors,
    `<acceptors>\n         <!-- Rewritten by the Outbox AppHost on every start -->\n         ${renderAcceptor(host, port)}\n      </acceptors>`,
  );
  out = out.replace(
    /<addresses>[\s\S]*?<\/addresses>/,
    "<addresses>\n         <!-- Declared in broker.properties by the Outbox AppHost -->\n      </addresses>",
  );
  return out;
}

/** artemis.profile with the given heap: -Xmx as asked, a small -Xms so an idle broker stays small. */
export function rewriteProfileHeap(profile: string, maxHeapMb: number): string {
  const initial = Math.min(128, maxHeapMb);
  if (!/-Xmx\S+/.test(profile)) throw new Error("etc/artemis.profile has no -Xmx setting to rewrite");
  return profile
    .replace(/-Xms\S+/g, `-Xms${String(initial)}M`)
    .replace(/-Xmx\S+/g, `-Xmx${String(maxHeapMb)}M`);
}

async function writeIfChanged(file: string, content: string): Promise<void> {
  const current = await readFile(file, "utf8").catch(() => undefined);
  if (current === content) return;
  // Write beside and rename, so a crash never leaves a truncated config behind.
  const tmp = `${file}.tmp-${String(process.pid)}`;
  await writeFile(tmp, content, { mode: 0o600 });
  await rename(tmp, file);
}

function runCreate(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  log: (line: string) => void,
): Promise<void> {
  return new Promise((done, fail) => {
    const child = spawn(command, args, { env, stdio: ["ignore", "pipe", "pipe"] });
    const tail: string[] = [];
    const onLine = (line: string): void => {
      if (!line.trim()) return;
      tail.push(line);
      if (tail.length > 20) tail.shift();
      log(line);
    };
    createInterface({ input: child.stdout }).on("line", onLine);
    createInterface({ input: child.stderr }).on("line", onLine);
    child.on("error", fail);
    child.on("close", (code) =>
      code === 0
        ? done()
        : fail(new Error(`artemis create failed (exit ${String(code)}): ${tail.join(" | ")}`)),
    );
  });
}

/** `etc/artemis-users.properties`: every login with its password hashed. */
export function renderUsersFile(logins: BrokerLogin[]): string {
  return `# Managed by the Outbox AppHost\n${logins.map((l) => `${l.username} = ${hashArtemisPassword(l.password)}\n`).join("")}`;
}

/** `etc/artemis-roles.properties`: role = user,user. */
export function renderRolesFile(roles: Map<string, string[]>): string {
  return `# Managed by the Outbox AppHost\n${[...roles].map(([role, users]) => `${role} = ${users.join(",")}\n`).join("")}`;
}

/** True when the files hold exactly these logins (passwords checked against their hashes) and roles. */
export function loginFilesUpToDate(
  usersContent: string,
  rolesContent: string,
  logins: BrokerLogin[],
  roles: Map<string, string[]>,
): boolean {
  const users = parseUsersFile(usersContent);
  const storedRoles = parseUsersFile(rolesContent);
  return (
    users.size === logins.length &&
    logins.every((l) => {
      const stored = users.get(l.username);
      return stored !== undefined && artemisPasswordMatches(stored, l.password);
    }) &&
    storedRoles.size === roles.size &&
    [...roles].every(([role, members]) => storedRoles.get(role) === members.join(","))
  );
}

async function syncCredentials(
  etc: string,
  logins: BrokerLogin[],
  roles: Map<string, string[]>,
  log: (line: string) => void,
): Promise<void> {
  const usersFile = join(etc, "artemis-users.properties");
  const rolesFile = join(etc, "artemis-roles.properties");
  const usersContent = await readFile(usersFile, "utf8").catch(() => "");
  const rolesContent = await readFile(rolesFile, "utf8").catch(() => "");
  if (loginFilesUpToDate(usersContent, rolesContent, logins, roles)) return;
  log(`Updating the broker's users: ${logins.map((l) => l.username).join(", ")}`);
  // The login module is declared with reload=true, so even a running broker picks this up.
  await writeIfChanged(usersFile, renderUsersFile(logins));
  await writeIfChanged(rolesFile, renderRolesFile(roles));
}

export async function prepareArtemisInstance(opts: ArtemisInstanceOptions): Promise<ArtemisLaunch> {
  const log = opts.log ?? (() => undefined);
  const host = opts.host ?? "127.0.0.1";
  const heap = opts.javaMaxHeapMb ?? 512;
  const instanceDir = resolve(opts.instanceDir);
  if (!USER_PATTERN.test(opts.user)) {
    throw new Error(
      `Invalid Artemis user name ${JSON.stringify(opts.user)}: use letters, digits, '.', '-', '_' (max 64)`,
    );
  }
  if (!opts.password) throw new Error("Artemis password must not be empty");
  if (!HOST_PATTERN.test(host)) throw new Error(`Invalid Artemis host ${JSON.stringify(host)}`);
  if (!Number.isInteger(opts.amqpPort) || opts.amqpPort < 1 || opts.amqpPort > 65535) {
    throw new Error(`Invalid Artemis AMQP port ${String(opts.amqpPort)}`);
  }
  if (!Number.isInteger(heap) || heap < 64)
    throw new Error(`javaMaxHeapMb must be an integer >= 64, got ${String(heap)}`);
  const clients = opts.clients ?? [];
  // Render first: a bad topology or client list fails before anything is written.
  const etcFiles = artemisEtcFiles(opts.topology, { adminUser: opts.user, clients });

  const java = await checkJava();
  if (!java.ok) throw new Error(java.message);

  const env: Record<string, string> = {};
  if (process.env.JAVA_HOME) env.JAVA_HOME = process.env.JAVA_HOME;

  const launcher = join(instanceDir, "bin", "artemis");
  const marker = join(instanceDir, CREATED_MARKER);
  if (!existsSync(launcher) || !existsSync(marker)) {
    log(`Creating Artemis ${opts.distribution.version} instance in ${instanceDir}`);
    await mkdir(instanceDir, { recursive: true });
    // --force also repairs an instance whose creation was interrupted; it keeps data/.
    await runCreate(
      join(opts.distribution.home, "bin", "artemis"),
      [
        "create",
        instanceDir,
        "--silent",
        "--force",
        "--user",
        opts.user,
        // A throwaway: syncCredentials below hashes the real password into etc/, so it never
        // shows on a command line (visible to other users in `ps`).
        "--password",
        randomBytes(18).toString("base64url"),
        "--require-login",
        "--host",
        host,
        "--default-port",
        String(opts.amqpPort),
        "--no-web",
        "--nio",
        "--no-autotune",
        "--no-amqp-acceptor",
        "--no-stomp-acceptor",
        "--no-hornetq-acceptor",
        "--no-mqtt-acceptor",
        "--java-memory",
        `${String(heap)}M`,
      ],
      // The AppHost's own environment (cloud credentials, tokens) stays out of the CLI, as out of the broker.
      childEnvironment(env),
      log,
    );
    await writeFile(
      marker,
      `${JSON.stringify({ artemisVersion: opts.distribution.version, createdAt: new Date().toISOString() })}\n`,
    );
  }

  const etc = join(instanceDir, "etc");
  const brokerXml = join(etc, "broker.xml");
  await writeIfChanged(brokerXml, rewriteBrokerXml(await readFile(brokerXml, "utf8"), host, opts.amqpPort));
  const profile = join(etc, "artemis.profile");
  await writeIfChanged(profile, rewriteProfileHeap(await readFile(profile, "utf8"), heap));
  await syncCredentials(
    etc,
    [
      { username: opts.user, password: opts.password },
      ...clients.map((c) => ({ username: c.name, password: c.password })),
    ],
    brokerRoles(opts.user, clients),
    log,
  );
  for (const [name, content] of etcFiles) await writeIfChanged(join(etc, name), content);

  return { command: launcher, args: ["run"], env, cwd: instanceDir };
}
