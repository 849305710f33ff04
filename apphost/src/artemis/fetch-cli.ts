// Pre-downloads the Artemis distribution into the cache and prints its home (used by CI).
//   node --import tsx apphost/src/artemis/fetch-cli.ts [--version 2.56.0]

import { runDistributionFetchCli } from "../distribution-fetch-cli.js";
import { ensureArtemisDistribution } from "./distribution.js";

await runDistributionFetchCli("Artemis", ensureArtemisDistribution);
