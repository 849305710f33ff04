// Pre-downloads the Kafka broker's jars into the cache and prints their directory (used by CI).
//   node --import tsx apphost/src/kafka/fetch-cli.ts [--version 4.4.0]

import { runDistributionFetchCli } from "../distribution-fetch-cli.js";
import { ensureKafkaDistribution } from "./distribution.js";

await runDistributionFetchCli("Kafka", ensureKafkaDistribution);
