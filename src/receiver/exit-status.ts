// The receiver's exit statuses. The systemd unit names the ones a restart cannot cure in
// RestartPreventExitStatus=, so Restart=on-failure does not loop until the start limit.

export const EXIT_STATUS = {
  /** Something that may pass: the port is taken, the database cannot be opened yet. */
  failure: 1,
  /** A setting or argument that cannot be used: only an edit fixes it. */
  usage: 2,
  /** The database is from a newer receiver: only the newer binary or a backup fixes it. */
  schemaTooNew: 3,
} as const;
