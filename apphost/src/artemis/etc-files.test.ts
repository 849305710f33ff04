import { describe, expect, it } from "vitest";
import { artemisEtcFiles } from "./etc-files.js";
import { renderBrokerProperties, type ArtemisTopology } from "./topology.js";

describe("artemisEtcFiles", () => {
  const topology: ArtemisTopology = {
    addresses: [{ name: "orders", routingType: "anycast", queues: [{ name: "orders" }] }],
  };

  it("gives broker.properties: disk bounds, then the topology rendering, then the instance settings", () => {
    const files = artemisEtcFiles(topology, { adminUser: "artemis", clients: [] });
    expect([...files.keys()]).toEqual(["broker.properties"]);
    const properties = files.get("broker.properties") ?? "";
    const topologyAt = properties.indexOf(renderBrokerProperties(topology));
    expect(topologyAt).toBeGreaterThan(0);
    expect(properties).toContain("criticalAnalyzerPolicy=LOG");
    // A backlog cannot fill the disk: paging per address, bounded, and a disk usage limit.
    const bounds = properties.slice(0, topologyAt);
    expect(bounds).toContain("maxDiskUsage=95");
    expect(bounds).toContain('addressSettings."#".addressFullMessagePolicy=PAGE');
    expect(bounds).toContain('addressSettings."#".pageLimitBytes=1073741824');
    expect(bounds).toContain('addressSettings."#".pageFullMessagePolicy=FAIL');
    expect(properties).not.toContain("maxDiskUsage=-1");
  });

  it("refuses an invalid topology before anything is written", () => {
    expect(() =>
      artemisEtcFiles(
        { addresses: [{ name: "bad name", routingType: "anycast", queues: [] }] },
        { adminUser: "artemis", clients: [] },
      ),
    ).toThrow(/Invalid Artemis address name/);
  });
});
