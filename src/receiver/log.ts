// One line per event: `time level message key=value …` (STYLE.md). Never a token, key or body.

export type Level = "info" | "warn" | "error";
export type Fields = Record<string, string | number | boolean | undefined>;

export interface Logger {
  info(message: string, fields?: Fields): void;
  warn(message: string, fields?: Fields): void;
  error(message: string, fields?: Fields): void;
  flush(): void;
}

export interface LogSink {
  write(text: string): void;
  flush(): void;
}

function formatValue(value: string | number | boolean): string {
  const text = String(value);
  return /^[^\s"=]+$/.test(text) ? text : JSON.stringify(text);
}

export function formatLine(level: Level, message: string, fields: Fields = {}, now = new Date()): string {
  let line = `${now.toISOString()} ${level} ${message}`;
  for (const [key, value] of Object.entries(fields)) {
    if (value !== undefined) line += ` ${key}=${formatValue(value)}`;
  }
  return `${line}\n`;
}

export function createLogger(sink: LogSink = bufferedStdout()): Logger {
  const log = (level: Level) => (message: string, fields?: Fields) =>
    sink.write(formatLine(level, message, fields));
  return { info: log("info"), warn: log("warn"), error: log("error"), flush: () => sink.flush() };
}

/** Buffered and flushed within 50 ms, so a log line per request never paces the requests. */
function bufferedStdout(): LogSink {
  const writer = Bun.stdout.writer();
  let timer: Timer | undefined;
  const flush = () => {
    timer = undefined;
    writer.flush();
  };
  return {
    write(text) {
      writer.write(text);
      timer ??= setTimeout(flush, 50);
    },
    flush() {
      clearTimeout(timer);
      flush();
    },
  };
}
