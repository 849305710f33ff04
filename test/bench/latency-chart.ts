// A small hand-written SVG line chart for the latency-versus-throughput curve: no dependency, and
// the output is plain text that diffs well in docs/.
export interface CurvePoint {
  rate: number;
  p50: number;
  p99: number;
}

function niceMax(value: number): number {
  if (!(value > 0)) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) if (value <= step * magnitude) return step * magnitude;
  return 10 * magnitude;
}

function escapeXml(text: string): string {
  return text.replace(/[<>&"]/g, (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;" })[c] ?? c);
}

/** commit → applied p50 and p99 (ms) against the offered open-loop rate (messages/s). */
export function latencyCurveSvg(points: CurvePoint[], subtitle: string): string {
  const width = 640;
  const height = 400;
  const m = { left: 64, right: 24, top: 48, bottom: 56 };
  const plotW = width - m.left - m.right;
  const plotH = height - m.top - m.bottom;
  const finite = points.filter((p) => Number.isFinite(p.p50) && Number.isFinite(p.p99));
  const xMax = niceMax(Math.max(0, ...finite.map((p) => p.rate)));
  const yMax = niceMax(Math.max(0, ...finite.map((p) => p.p99)));
  const at = (v: number) => Math.round(v * 10) / 10;
  const x = (v: number) => at(m.left + (v / xMax) * plotW);
  const y = (v: number) => at(m.top + plotH - (v / yMax) * plotH);
  const fmt = (v: number) => (Number.isInteger(v) ? String(v) : v.toFixed(1));

  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    `<text x="${width / 2}" y="20" text-anchor="middle" font-size="15">Latency versus throughput (commit → applied)</text>`,
    `<text x="${width / 2}" y="36" text-anchor="middle" fill="#555">${escapeXml(subtitle)}</text>`,
  );
  for (let i = 0; i <= 5; i++) {
    const yv = (yMax * i) / 5;
    const xv = (xMax * i) / 5;
    parts.push(
      `<line x1="${m.left}" x2="${m.left + plotW}" y1="${y(yv)}" y2="${y(yv)}" stroke="#e5e5e5"/>`,
      `<text x="${m.left - 6}" y="${y(yv) + 4}" text-anchor="end">${fmt(yv)}</text>`,
      `<text x="${x(xv)}" y="${m.top + plotH + 18}" text-anchor="middle">${fmt(xv)}</text>`,
    );
  }
  parts.push(
    `<line x1="${m.left}" x2="${m.left}" y1="${m.top}" y2="${m.top + plotH}" stroke="#333"/>`,
    `<line x1="${m.left}" x2="${m.left + plotW}" y1="${m.top + plotH}" y2="${m.top + plotH}" stroke="#333"/>`,
    `<text x="${m.left + plotW / 2}" y="${height - 16}" text-anchor="middle">offered rate (POST/s, open loop)</text>`,
    `<text transform="translate(16 ${m.top + plotH / 2}) rotate(-90)" text-anchor="middle">latency (ms)</text>`,
  );
  const series: Array<[keyof CurvePoint, string]> = [
    ["p50", "#1f77b4"],
    ["p99", "#d62728"],
  ];
  series.forEach(([key, colour], i) => {
    const coords = finite.map((p) => `${x(p.rate)},${y(p[key])}`);
    parts.push(`<polyline fill="none" stroke="${colour}" stroke-width="2" points="${coords.join(" ")}"/>`);
    for (const c of coords) {
      const [cx, cy] = c.split(",");
      parts.push(`<circle cx="${cx}" cy="${cy}" r="3" fill="${colour}"/>`);
    }
    const lx = m.left + 16;
    const ly = m.top + 12 + i * 18;
    parts.push(
      `<line x1="${lx}" x2="${lx + 20}" y1="${ly}" y2="${ly}" stroke="${colour}" stroke-width="2"/>`,
      `<text x="${lx + 26}" y="${ly + 4}">${key}</text>`,
    );
  });
  parts.push("</svg>");
  return `${parts.join("\n")}\n`;
}
