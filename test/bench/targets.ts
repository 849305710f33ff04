// Issue 13's targets, reported next to the figures and never asserted: each entry gives the
// measured value, the target, and the ratio measured/target in the direction where ≥ 1 means met.
export interface TargetCheck {
  value: number | null;
  target: number;
  /** ≥ 1 = met. For "at most" targets this is target / value. */
  ratio: number | null;
  met: boolean | null;
}

function atLeast(value: number | null, target: number): TargetCheck {
  if (value === null || !Number.isFinite(value)) return { value, target, ratio: null, met: null };
  const ratio = Math.round((value / target) * 100) / 100;
  return { value, target, ratio, met: value >= target };
}

function atMost(value: number | null, target: number): TargetCheck {
  if (value === null || !Number.isFinite(value)) return { value, target, ratio: null, met: null };
  const ratio = value === 0 ? Infinity : Math.round((target / value) * 100) / 100;
  return { value, target, ratio: Number.isFinite(ratio) ? ratio : 999, met: value <= target };
}

export interface TargetInputs {
  e2eVsMinRaw: number;
  vsPeerDefault: number | null;
  vsPeerTuned: number | null;
  publishP99AtHalf: number;
  e2eP99AtHalf: number;
  backlogVsRawBroker: number;
  telemetryOnVsOff: number | null;
  scaleCost1mVs10k: number | null;
  idleCpuPercent: number;
  lost: number;
  duplicates: number;
}

export function checkTargets(i: TargetInputs) {
  return {
    e2e_vs_min_raw: atLeast(i.e2eVsMinRaw, 0.5),
    vs_peer_default: atLeast(i.vsPeerDefault, 10),
    vs_peer_tuned: atLeast(i.vsPeerTuned, 2),
    publish_p99_at_half_ms: atMost(i.publishP99AtHalf, 10),
    e2e_p99_at_half_ms: atMost(i.e2eP99AtHalf, 25),
    backlog_relay_vs_raw_broker: atLeast(i.backlogVsRawBroker, 0.5),
    telemetry_on_vs_off: atLeast(i.telemetryOnVsOff, 0.8),
    // Cost at 1M rows within 20% of the cost at 10k: (1m / 10k) ≤ 1.2.
    scale_cost_1m_vs_10k: atMost(i.scaleCost1mVs10k, 1.2),
    idle_cpu_percent: atMost(i.idleCpuPercent, 1),
    lost: { value: i.lost, target: 0, ratio: null, met: i.lost === 0 },
    duplicates_applied: { value: i.duplicates, target: 0, ratio: null, met: i.duplicates === 0 },
  };
}
