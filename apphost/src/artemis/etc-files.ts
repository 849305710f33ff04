// The configuration files the AppHost puts into a broker instance's etc/ directory. Both providers
// use this one function: the process provider writes the files into the instance it created, the
// container provider hands them to the image through its etc-override directory. What the broker
// is configured with is therefore the same in both modes.

import { renderBrokerProperties, type ArtemisTopology } from "./topology.js";

/** Broker settings that belong to running a development broker rather than to the topology. */
const INSTANCE_PROPERTIES = [
  "",
  "# Instance settings (AppHost)",
  "# A dev broker must not halt itself when a loaded CI machine stalls the journal for a while.",
  "criticalAnalyzerPolicy=LOG",
  "# The stock 90% disk limit silently blocks producers on a full-ish laptop disk.",
  "maxDiskUsage=-1",
];

export const BROKER_PROPERTIES_FILE = "broker.properties";

/** File name in etc/ → content. Throws TopologyError on an invalid topology, before anything is written. */
export function artemisEtcFiles(topology: ArtemisTopology): Map<string, string> {
  const brokerProperties = renderBrokerProperties(topology) + INSTANCE_PROPERTIES.join("\n") + "\n";
  return new Map([[BROKER_PROPERTIES_FILE, brokerProperties]]);
}
