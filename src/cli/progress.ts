/**
 * Progress on a terminal (cli-progress), with log lines printed above the bars: a bar for each long phase
 * while it runs (playing the oracle to fit the tokenizer, behaviour cloning, held-out evaluation), and, for
 * `train`, one for the RL steps with success rate, entropy, horizon and ETA. Without a TTY (CI, files) a
 * phase prints one line when it starts and each step one plain line.
 */
import type { Writable } from 'node:stream';
import cliProgress from 'cli-progress';
import { formatSuccessRate } from '../agent/agent.js';
import type { EvaluationReport } from '../agent/policy/evaluate.js';
import { formatPValue, type PairedComparison } from '../agent/policy/paired.js';
import type { SftPhase } from '../agent/policy/sft.js';
import type { MetricsRecord } from '../rl/metrics.js';

const value = (record: MetricsRecord, name: string, digits = 3) =>
  typeof record[name] === 'number' ? (record[name] as number).toFixed(digits) : '-';

/** What each phase is called on screen, and what it counts. */
const PHASES: Record<SftPhase, { label: string; unit: string }> = {
  'oracle demonstrations': { label: 'playing oracle demonstrations', unit: 'episodes' },
  'tokenizer text': { label: 'fitting the tokenizer: playing the oracle', unit: 'episodes' },
  'behaviour cloning': { label: 'behaviour cloning', unit: 'steps' },
  'held-out evaluation': { label: 'held-out evaluation', unit: 'episodes' },
};

/** Phase bars and log lines for a command (`sft`, `eval`); {@link TrainingProgress} adds the step bar. */
export class Progress {
  protected readonly bars: cliProgress.MultiBar | undefined;
  private readonly phases = new Map<SftPhase, cliProgress.SingleBar>();

  /** `command` prefixes plain lines (`[train] ...`); `stream` is where it all goes (standard error). */
  constructor(
    private readonly command: string,
    private readonly stream: Writable & { isTTY?: boolean } = process.stderr,
  ) {
    if (stream.isTTY) {
      this.bars = new cliProgress.MultiBar(
        {
          stream: stream as NodeJS.WriteStream,
          hideCursor: true,
          clearOnComplete: false,
          etaBuffer: 5,
          format: '{bar}',
        },
        cliProgress.Presets.shades_classic,
      );
    }
  }

  /** A log line (above the bars on a terminal). */
  log(line: string): void {
    if (this.bars) this.bars.log(`${line}\n`);
    else this.stream.write(`${line}\n`);
  }

  /** Progress of a long phase: `done` of `total` (0 when it starts); its bar goes when it is done. */
  phase(phase: SftPhase, done: number, total: number): void {
    const { label, unit } = PHASES[phase];
    if (!this.bars) {
      if (done === 0) this.log(`[${this.command}] ${label}: ${total} ${unit} ...`);
      return;
    }
    let bar = this.phases.get(phase);
    if (!bar) {
      bar = this.bars.create(
        total,
        done,
        {},
        { format: `${label} |{bar}| {value}/{total} ${unit} | ETA {eta_formatted}` },
      );
      this.phases.set(phase, bar);
    }
    bar.update(done);
    if (done >= total) {
      this.bars.remove(bar);
      this.phases.delete(phase);
    }
  }

  stop(): void {
    this.bars?.stop();
  }
}

/** {@link Progress} for `turngym train`: a bar for the RL steps too. */
export class TrainingProgress extends Progress {
  private bar: cliProgress.SingleBar | undefined;

  constructor(
    private readonly total: number,
    stream?: Writable & { isTTY?: boolean },
  ) {
    super('train', stream);
  }

  update(record: MetricsRecord): void {
    const fields = {
      success: value(record, 'charts/success_rate'),
      entropy: value(record, 'actor/entropy'),
      horizon: String(record['rollout/max_turns'] ?? '-'),
      seconds: value(record, 'perf/time_step_s', 1),
    };
    if (this.bars) {
      this.bar ??= this.bars.create(this.total, 0, fields, {
        format:
          'train |{bar}| step {value}/{total} | success {success} | entropy {entropy} | horizon {horizon} | {seconds} s/step | ETA {eta_formatted}',
      });
      this.bar.update(record.step, fields);
      return;
    }
    this.log(
      `[train] step ${record.step}/${this.total}  success ${fields.success}  return ${value(record, 'charts/episodic_return')}  entropy ${fields.entropy}  horizon ${fields.horizon}  ${fields.seconds} s/step`,
    );
  }
}

/**
 * The before/after lines printed at the end of a run: held-out success, return, turns and malformed turns
 * (left out for a report saved before they were counted, which a resumed run may read from its eval.json),
 * and with a paired comparison on the same tasks, the tasks each solved that the other did not.
 */
export function outcomeLines(
  before: EvaluationReport | undefined,
  after: EvaluationReport | undefined,
  paired?: PairedComparison,
): string {
  const line = (label: string, report: EvaluationReport | undefined) => {
    if (!report) return `${label} (not evaluated)`;
    const malformed =
      typeof report.format_error_rate === 'number'
        ? `  malformed turns ${report.format_error_rate.toFixed(3)}` +
          (typeof report.well_formed_success_rate === 'number'
            ? ` (success ${report.well_formed_success_rate.toFixed(3)} without one)`
            : '')
        : '';
    const played =
      report.samples > 1
        ? `${report.episodes} held-out tasks, ${report.samples} plays each`
        : `${report.episodes} held-out episodes`;
    return `${label} success ${formatSuccessRate(report.success_rate)}  return ${report.mean_return.toFixed(3)}  turns ${report.mean_turns.toFixed(2)}${malformed}  (${played})`;
  };
  const lines = [line('before RL:', before), line('after RL: ', after)];
  if (paired) {
    const solved =
      (after?.samples ?? 1) > 1 ? 'tasks solved in more plays after RL' : 'tasks solved after RL and not before';
    lines.push(
      `paired:    ${solved} ${paired.solved_newly}, the reverse ${paired.solved_no_longer} (sign test p = ${formatPValue(paired.success_p)}, ${paired.episodes} tasks)`,
    );
  }
  return lines.join('\n');
}
