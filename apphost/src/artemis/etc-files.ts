// The configuration files the AppHost puts into a broker instance's etc/ directory. Both providers
// use this one function: the process provider writes the files into the instance it created, the
// container provider hands them to the image through its etc-override directory. What the broker
// is configured with is therefore the same in both modes.

import { renderSecurityProperties, type BrokerClient } from "./security.js";
import { renderBrokerProperties, type ArtemisTopology } from "./topology.js";

/** Broker settings that belong to running a development broker rather than to the topology. */
const INSTANCE_PROPERTIES = [
  "",
  "# Instance settings (AppHost)",
  "# A dev broker must not halt itself when a loaded CI machine stalls the journal for a while.",
  "criticalAnalyzerPolicy=LOG",
];

/**
 * Bounds on what a backlog may take, written before the topology so that a resource's own
 * settings win: messages beyond 16 MiB per address page to disk, paging stops (sends fail, the
 * outbox keeps the rows) at 1 GiB per address, and the broker blocks producers once the disk is
 * 95 % full — a stalled consumer can never fill the disk.
 */
const DISK_LIMITS = [
  "# Disk and memory bounds (AppHost)",
  "maxDiskUsage=95",
  "globalMaxSize=268435456",
  'addressSettings."#".maxSizeBytes=16777216',
  'addressSettings."#".addressFullMessagePolicy=PAGE',
  'addressSettings."#".pageLimitBytes=1073741824',
  'addressSettings."#".pageFullMessagePolicy=FAIL',
  "",
];

export const BROKER_PROPERTIES_FILE = "broker.properties";

/** Who may do what on the broker: the AppHost's own user, and one user per client. */
export interface BrokerSecurity {
  adminUser: string;
  clients: BrokerClient[];
}

/**
 * File name in etc/ → content. Throws TopologyError on an invalid topology or client list, before
 * anything is written.
 */
export function artemisEtcFiles(topology: ArtemisTopology, security: BrokerSecurity): Map<string, string> {
  const brokerProperties =
    DISK_LIMITS.join("\n") +
    renderBrokerProperties(topology) +
    "\n" +
    renderSecurityProperties(topology, security.clients, security.adminUser) +
    INSTANCE_PROPERTIES.join("\n") +
    "\n";
  return new Map([[BROKER_PROPERTIES_FILE, brokerProperties]]);
}
