/**
 * One progress bar per benchmark stage (cli-progress) on a terminal; one line per stage
 * elsewhere; nothing when silenced.
 * May import: anything (bench is a tool above every layer).
 *
 * @module
 */
import { Presets, SingleBar } from 'cli-progress';

/** A stage under way. */
export interface Stage {
  /** Advances by `n` units. */
  tick(n?: number): void;
  /** Ends the stage, with a closing note. */
  done(note?: string): void;
}

/** Where stages report. */
export interface Progress {
  stage(name: string, total: number): Stage;
}

/**
 * Progress on the given stream: bars on a TTY, a line per stage otherwise, nothing when
 * `enabled` is false.
 *
 * @example
 * const stage = progress(true).stage('cost', 40);
 * stage.tick();
 * stage.done('3 workloads');
 */
export function progress(enabled: boolean, stream: NodeJS.WriteStream = process.stderr): Progress {
  return {
    stage(name, total) {
      const began = performance.now();
      const seconds = () => ((performance.now() - began) / 1000).toFixed(1);
      if (!enabled) return { tick() {}, done() {} };
      if (!stream.isTTY) {
        stream.write(`bench: ${name} ...\n`);
        return {
          tick() {},
          done(note) {
            stream.write(`bench: ${name} done in ${seconds()} s${note ? ` (${note})` : ''}\n`);
          },
        };
      }
      const bar = new SingleBar(
        {
          format: `${name.padEnd(28)} {bar} {percentage}% | {value}/{total} | {duration}s`,
          stream,
          hideCursor: true,
        },
        Presets.shades_classic,
      );
      bar.start(total, 0);
      return {
        tick(n = 1) {
          bar.increment(n);
        },
        done(note) {
          bar.update(total);
          bar.stop();
          if (note) stream.write(`  ${note} (${seconds()} s)\n`);
        },
      };
    },
  };
}
