// The Device telemetry widget: every numeric field over time (uPlot, live) and the last samples.
import { useEffect, useMemo, useRef, useState } from 'react';
import { useQuery } from 'urql';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { TelemetryQuery, TelemetryReceived } from '../queries.ts';
import { useLiveBatches, useOnReconnect } from '../live.ts';
import { Empty, ErrorBox, Loading, formatTime } from '../ui/kit.tsx';

const KEEP = 500;
const COLORS = ['#2563eb', '#16a34a', '#dc2626', '#9333ea', '#ea580c', '#0891b2', '#ca8a04', '#db2777'];

interface Sample {
  timestamp: string;
  receivedAt: string;
  data: unknown;
}

/** Numeric leaves of a sample, by dotted path ("temperature", "battery.voltage"). */
export function numericFields(data: unknown, prefix = '', out: Record<string, number> = {}): Record<string, number> {
  if (typeof data === 'number' && Number.isFinite(data)) out[prefix || 'value'] = data;
  else if (data && typeof data === 'object' && !Array.isArray(data))
    for (const [k, v] of Object.entries(data)) if (k !== 'timestamp') numericFields(v, prefix ? `${prefix}.${k}` : k, out);
  return out;
}

export default function TelemetryTab({ endpointId }: { endpointId: string }) {
  const [result, refetch] = useQuery({ query: TelemetryQuery, variables: { id: endpointId, last: KEEP }, requestPolicy: 'network-only' });
  const [live, setLive] = useState<Sample[]>([]);
  useOnReconnect(() => refetch({ requestPolicy: 'network-only' }));
  useLiveBatches(TelemetryReceived, { endpointId }, (events) =>
    setLive((prev) => [...prev, ...events.map((e) => e.telemetryReceived)].slice(-KEEP)),
  );
  const samples = useMemo(() => {
    const queried = result.data?.endpoint?.telemetry ?? [];
    const seen = new Set(queried.map((s) => s.receivedAt + JSON.stringify(s.data)));
    const all = [...queried, ...live.filter((s) => !seen.has(s.receivedAt + JSON.stringify(s.data)))];
    return all.sort((a, b) => Date.parse(a.timestamp) - Date.parse(b.timestamp)).slice(-KEEP);
  }, [result.data, live]);

  return (
    <section className="card widget" role="region" aria-label="Device telemetry">
      <h2>Device telemetry</h2>
      {result.error && !result.data ? (
        <ErrorBox error={result.error} />
      ) : !result.data ? (
        <Loading />
      ) : samples.length === 0 ? (
        <Empty title="No telemetry yet">Samples the device sends to kp1 dcx appear here as they arrive.</Empty>
      ) : (
        <>
          <Chart samples={samples} />
          <h3>Last samples</h3>
          <div className="table-scroll">
            <table className="table" aria-label="Last samples">
              <thead>
                <tr>
                  <th>Time</th>
                  <th>Received</th>
                  <th>Data</th>
                </tr>
              </thead>
              <tbody>
                {samples
                  .slice(-20)
                  .reverse()
                  .map((s, i) => (
                    <tr key={`${s.receivedAt}-${i}`}>
                      <td className="nowrap">{formatTime(s.timestamp)}</td>
                      <td className="nowrap muted">{formatTime(s.receivedAt)}</td>
                      <td className="json-cell">
                        <code className="json-compact">{JSON.stringify(s.data)}</code>
                      </td>
                    </tr>
                  ))}
              </tbody>
            </table>
          </div>
        </>
      )}
    </section>
  );
}

function Chart({ samples }: { samples: Sample[] }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const { fields, data } = useMemo(() => {
    const rows = samples.map((s) => ({ t: Date.parse(s.timestamp) / 1000, v: numericFields(s.data) }));
    const names = [...new Set(rows.flatMap((r) => Object.keys(r.v)))].sort();
    const columns: uPlot.AlignedData = [rows.map((r) => r.t), ...names.map((n) => rows.map((r) => r.v[n] ?? null))];
    return { fields: names, data: columns };
  }, [samples]);
  const shape = fields.join('|');

  useEffect(() => {
    if (!box.current || fields.length === 0) return;
    const width = box.current.clientWidth || 800;
    const options: uPlot.Options = {
      width,
      height: 280,
      cursor: { drag: { x: true, y: false } },
      scales: { x: { time: true } },
      axes: [{ stroke: '#64748b', grid: { stroke: '#eef2f7' } }, { stroke: '#64748b', grid: { stroke: '#eef2f7' } }],
      series: [
        {},
        ...fields.map((name, i) => ({
          label: name,
          stroke: COLORS[i % COLORS.length],
          width: 2,
          spanGaps: true,
          points: { show: true, size: 5 },
        })),
      ],
    };
    plot.current = new uPlot(options, data, box.current);
    const observer = new ResizeObserver(() => plot.current?.setSize({ width: box.current!.clientWidth, height: 280 }));
    observer.observe(box.current);
    return () => {
      observer.disconnect();
      plot.current?.destroy();
      plot.current = null;
    };
    // Rebuilt only when the set of fields changes; new data goes through setData below.
  }, [shape]);
  useEffect(() => plot.current?.setData(data), [data]);

  if (fields.length === 0) return <Empty title="No numeric fields">The samples carry no numbers to chart.</Empty>;
  return <div className="chart" ref={box} data-testid="telemetry-chart" data-fields={shape} data-points={data[0].length} />;
}

