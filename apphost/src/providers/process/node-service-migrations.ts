import path from "node:path";
import type { NodeServiceResource } from "../../model/node-service.js";
import { childEnvironment } from "../../runtime/child-environment.js";
import {
  migrationsEnvironment,
  referenceEnvironment,
  type ConnectionInfo,
} from "../../runtime/environment.js";
import type { LogLine } from "../../runtime/log-sink.js";
import { ManagedProcess } from "../../runtime/managed-process.js";
import { grantRuntimeRole } from "../../runtime/postgres-roles.js";
import type { StartContext } from "../../runtime/provider.js";
import { errorLines } from "../../runtime/start-errors.js";
import { SERVICE_LOADER_ARGS } from "./node-service-process.js";

/** How many of the step's last output lines a failed start quotes. */
const QUOTED_LINES = 15;

/**
 * Runs a service's migrations entry point (`withMigrations`) as a one-shot child process and
 * resolves once it exits 0. It is the only process that gets the database owner's URL
 * (`<DB>_MIGRATIONS_URI`): the service and its replicas, started after it, get the runtime role
 * only. Rejects with the step's last output when it fails, and kills it if the start is cancelled.
 * Services run as host processes in both modes, so this serves the container mode too.
 */
export async function runServiceMigrations(
  resource: NodeServiceResource,
  context: StartContext,
): Promise<void> {
  const entryPoint = resource.migrationsEntryPoint;
  if (entryPoint === undefined) return;
  const env = migrationsStepEnvironment(resource, context);
  const cwd = resource.resolveDirectory(context.rootDir);
  context.log(`running migrations (${entryPoint}) with the database owner's credentials`);
  const output: string[] = [];
  const stopListening = context.logs.onLine((line: LogLine) => {
    if (line.resource !== resource.name || line.stream === "apphost") return;
    output.push(line.text);
    if (output.length > QUOTED_LINES) output.shift();
  });
  try {
    const step = new ManagedProcess(
      resource.name,
      {
        command: process.execPath,
        // The service's loader; no telemetry hooks: a one-shot step has nothing to report.
        args: [...SERVICE_LOADER_ARGS, path.join(cwd, entryPoint)],
        cwd,
        env: childEnvironment(env),
      },
      context.logs,
    );
    const cancel = () => void step.kill();
    context.signal.addEventListener("abort", cancel, { once: true });
    const info = await step.exited.finally(() => context.signal.removeEventListener("abort", cancel));
    if (context.signal.aborted) throw new Error(`migrations (${entryPoint}) cancelled`);
    if (info.code !== 0) {
      const how = info.signal ? `signal ${info.signal}` : `code ${info.code}`;
      // Error lines if the step printed any (an uncaught error), else its last words without stack frames.
      const said = errorLines(output);
      const quoted = said.length > 0 ? said : output.filter((line) => !/^\s+at\s/.test(line)).slice(-5);
      throw new Error(
        `migrations (${entryPoint}) failed (${how})`,
        quoted.length > 0 ? { cause: new Error(quoted.join(" | ")) } : undefined,
      );
    }
    // Schemas this run's migrations created get the runtime role's grants before the service starts.
    for (const { connection } of migratedDatabases(resource, context))
      await grantRuntimeRole(connection.migrationsUri, connection.username);
    context.log("migrations applied");
  } finally {
    stopListening();
  }
}

/**
 * The step's variables: each referenced database's runtime connection (Aspire conventions) plus its
 * owner's URL as `<DB>_MIGRATIONS_URI`, and the service's own declared variables. Nothing of the
 * broker, no admin token, no HTTP port, no telemetry: it needs none of them.
 */
export function migrationsStepEnvironment(
  resource: NodeServiceResource,
  context: StartContext,
): Record<string, string> {
  const env: Record<string, string> = { NODE_ENV: process.env.NODE_ENV ?? "development" };
  let databases = 0;
  for (const { reference, connection } of migratedDatabases(resource, context)) {
    databases++;
    Object.assign(
      env,
      referenceEnvironment(reference.connectionName, connection, resource.name),
      migrationsEnvironment(reference.connectionName, connection),
    );
  }
  if (databases === 0)
    throw new Error(`"${resource.name}" declares migrations but references no database (withReference)`);
  for (const [key, value] of resource.environment) env[key] = value;
  for (const [key, parameter] of resource.parameterEnvironment) {
    const value = context.lookup(parameter.name).value;
    if (value === undefined) throw new Error(`Parameter "${parameter.name}" has no value`);
    env[key] = value;
  }
  return env;
}

/** The service's referenced databases (the targets whose connection carries an owner's URL). */
function migratedDatabases(
  resource: NodeServiceResource,
  context: StartContext,
): Array<{
  reference: NodeServiceResource["references"][number];
  connection: ConnectionInfo & { migrationsUri: string };
}> {
  const found = [];
  for (const reference of resource.references) {
    const connection = context.lookup(reference.name).connection;
    if (connection?.migrationsUri === undefined) continue;
    found.push({ reference, connection: { ...connection, migrationsUri: connection.migrationsUri } });
  }
  return found;
}
