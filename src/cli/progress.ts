/**
 * Training progress on a terminal: a bar with step, success rate, entropy, horizon and ETA (cli-progress),
 * with log lines printed above it. Without a TTY (CI, files) it prints one plain line per step instead.
 */
import cliProgress from 'cli-progress';
import { formatSuccessRate } from '../agent/agent.js';
import type { EvaluationReport } from '../agent/policy/sft.js';
import type { MetricsRecord } from '../rl/metrics.js';

const value = (record: MetricsRecord, name: string, digits = 3) => (typeof record[name] === 'number' ? (record[name] as number).toFixed(digits) : '-');

export class TrainingProgress {
  private readonly bars: cliProgress.MultiBar | undefined;
  private bar: cliProgress.SingleBar | undefined;

  constructor(private readonly total: number) {
    if (process.stderr.isTTY) {
      this.bars = new cliProgress.MultiBar(
        {
          stream: process.stderr,
          format: 'train |{bar}| step {value}/{total} | success {success} | entropy {entropy} | horizon {horizon} | {seconds} s/step | ETA {eta_formatted}',
          hideCursor: true,
          clearOnComplete: false,
          etaBuffer: 5,
        },
        cliProgress.Presets.shades_classic,
      );
    }
  }

  /** A log line (above the bar on a terminal). */
  log(line: string): void {
    if (this.bars) this.bars.log(`${line}\n`);
    else console.error(line);
  }

  update(record: MetricsRecord): void {
    const fields = {
      success: value(record, 'charts/success_rate'),
      entropy: value(record, 'actor/entropy'),
      horizon: String(record['rollout/max_turns'] ?? '-'),
      seconds: value(record, 'perf/time_step_s', 1),
    };
    if (this.bars) {
      this.bar ??= this.bars.create(this.total, 0, fields);
      this.bar.update(record.step, fields);
      return;
    }
    console.error(
      `[train] step ${record.step}/${this.total}  success ${fields.success}  return ${value(record, 'charts/episodic_return')}  entropy ${fields.entropy}  horizon ${fields.horizon}  ${fields.seconds} s/step`,
    );
  }

  stop(): void {
    this.bars?.stop();
  }
}

/**
 * The before/after lines printed at the end of a run: held-out success, return, turns and malformed turns
 * (left out for a report saved before they were counted, which a resumed run may read from its eval.json).
 */
export function outcomeLines(before: EvaluationReport | undefined, after: EvaluationReport | undefined): string {
  const line = (label: string, report: EvaluationReport | undefined) => {
    if (!report) return `${label} (not evaluated)`;
    const malformed =
      typeof report.format_error_rate === 'number'
        ? `  malformed turns ${report.format_error_rate.toFixed(3)}` +
          (typeof report.well_formed_success_rate === 'number' ? ` (success ${report.well_formed_success_rate.toFixed(3)} without one)` : '')
        : '';
    const played = report.samples > 1 ? `${report.episodes} held-out tasks, ${report.samples} plays each` : `${report.episodes} held-out episodes`;
    return `${label} success ${formatSuccessRate(report.success_rate)}  return ${report.mean_return.toFixed(3)}  turns ${report.mean_turns.toFixed(2)}${malformed}  (${played})`;
  };
  return `${line('before RL:', before)}\n${line('after RL: ', after)}`;
}
