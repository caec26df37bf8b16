/**
 * The one catalogue of Tapestry error codes (DESIGN §8). Every code is a stable
 * string: it is stored in the database, written to logs, returned by the REST
 * API as `{code, message}` and mapped to an encp/CLI exit code. Start from
 * Enstore's taxonomy (e_errors.py) so operators who know Enstore recognise them.
 *
 * Add codes at the end of a group; never rename one.
 */
export interface ErrorSpec {
  /** Whether a client may retry the same request and expect a different outcome. */
  readonly retryable: boolean;
  /** HTTP status used by the REST API. */
  readonly http: number;
  /** Exit code of encp and the tapestry CLI: 1 = failed, 2 = usage error. */
  readonly exit: 1 | 2;
  /** One line for an operator: what it means and what to do. */
  readonly hint: string;
}

export const ERROR_CATALOGUE = {
  // --- user and request errors -------------------------------------------------
  USERERROR: { retryable: false, http: 400, exit: 2, hint: 'The request itself is wrong (bad argument, illegal tag value); fix the command.' },
  MALFORMED: { retryable: false, http: 400, exit: 2, hint: 'A message or body could not be parsed; a client or peer is sending garbage.' },
  CONFIG_INVALID: { retryable: false, http: 400, exit: 2, hint: 'The configuration file has problems; run `tapestry config check`.' },
  NOT_FOUND: { retryable: false, http: 404, exit: 1, hint: 'No such object (file, volume, drive, library).' },
  NO_SUCH_FILE: { retryable: false, http: 404, exit: 1, hint: 'No file at that path or bfid.' },
  NO_SUCH_VOLUME: { retryable: false, http: 404, exit: 1, hint: 'No volume with that label is known.' },
  EXISTS: { retryable: false, http: 409, exit: 1, hint: 'The object already exists.' },
  CONFLICT: { retryable: false, http: 409, exit: 1, hint: 'The object is in a state that does not allow this operation.' },
  UNAUTHORIZED: { retryable: false, http: 401, exit: 1, hint: 'A valid token is required.' },

  // --- volume and space ------------------------------------------------------------
  NOACCESS: { retryable: false, http: 409, exit: 1, hint: 'The volume is marked NOACCESS after errors; investigate, then `tapestry volume clear`.' },
  NOTALLOWED: { retryable: false, http: 409, exit: 1, hint: 'An administrator made the volume NOTALLOWED.' },
  DELETED: { retryable: false, http: 409, exit: 1, hint: 'The volume or file is deleted.' },
  NOVOLUME: { retryable: false, http: 507, exit: 1, hint: 'No writable volume for this file family; add or recycle volumes.' },
  NOSPACE: { retryable: false, http: 507, exit: 1, hint: 'The volume has no room for the file (for an encp read: the local disk is full; nothing was left behind, free space and run it again).' },
  STORAGE_QUOTA_EXCEEDED: { retryable: false, http: 507, exit: 1, hint: 'The storage group has used its quota of volumes; raise it with `tapestry quota set`.' },
  READONLY: { retryable: false, http: 409, exit: 1, hint: 'The volume is read-only (readonly, migrated, duplicated, ...); reads work, writes go to another volume.' },
  SHELVED: { retryable: false, http: 409, exit: 1, hint: 'The volume is on the shelf (ejected) and its shelf policy is "fail"; put it back into the library first.' },

  // --- data integrity ----------------------------------------------------------------
  CRC_MISMATCH: { retryable: false, http: 500, exit: 1, hint: 'Checksums disagree; the data was not delivered. Check the volume and drive.' },
  END_OF_TAPE: { retryable: false, http: 507, exit: 1, hint: 'The physical end of tape was reached while writing.' },
  BLANK_CHECK: { retryable: false, http: 500, exit: 1, hint: 'Read past end-of-data: the tape holds nothing there.' },
  FILEMARK: { retryable: false, http: 500, exit: 1, hint: 'A filemark was met where a data block was expected.' },
  WRITE_PROTECTED: { retryable: false, http: 409, exit: 1, hint: 'The cartridge is write-protected.' },
  LABEL_MISMATCH: { retryable: false, http: 409, exit: 1, hint: 'The VOL1 label on tape does not match the volume expected.' },
  BAD_FILE_SIZE: { retryable: false, http: 409, exit: 1, hint: 'The data had another size than announced (file changed while copied, or a short stream); nothing was registered.' },

  // --- hardware ------------------------------------------------------------------------
  MEDIA_ERROR: { retryable: true, http: 503, exit: 1, hint: 'The tape returned a media error; the request is retried on another drive.' },
  DRIVE_ERROR: { retryable: true, http: 503, exit: 1, hint: 'The drive failed; the request is retried on another drive.' },
  DRIVE_NOT_READY: { retryable: true, http: 503, exit: 1, hint: 'The drive has no cartridge loaded or is still threading.' },
  DRIVE_DOWN: { retryable: false, http: 503, exit: 1, hint: 'The robot reports the drive down; repair it and bring it back online.' },
  MOUNT_FAILED: { retryable: true, http: 503, exit: 1, hint: 'The robot could not mount or dismount the cartridge.' },
  ROBOT_ERROR: { retryable: true, http: 503, exit: 1, hint: 'The robot reported an error; retried after a delay.' },
  ROBOT_BUSY: { retryable: true, http: 503, exit: 1, hint: 'The robot is busy; the command is retried.' },
  ROBOT_FORCE_DEMOUNT: { retryable: true, http: 503, exit: 1, hint: 'The drive must be unloaded before the robot can move this cartridge.' },
  ROBOT_OPERATOR: { retryable: false, http: 503, exit: 1, hint: 'The robot needs an operator (jam, door open, cartridge problem); see `tapestry alarm list`.' },
  ROBOT_TIMEOUT: { retryable: true, http: 504, exit: 1, hint: 'The robot did not answer in time.' },
  ROBOT_UNREACHABLE: { retryable: true, http: 503, exit: 1, hint: 'The robot serial line is closed or not answering.' },
  ELEMENT_EMPTY: { retryable: false, http: 409, exit: 1, hint: 'The source element (slot, drive, mail slot) holds no cartridge.' },
  ELEMENT_FULL: { retryable: false, http: 409, exit: 1, hint: 'The destination element already holds a cartridge.' },
  NO_SUCH_ELEMENT: { retryable: false, http: 404, exit: 1, hint: 'No such slot, drive or mail slot in this robot.' },

  // --- library and service -------------------------------------------------------------
  LIBRARY_LOCKED: { retryable: false, http: 503, exit: 1, hint: 'The library manager is locked (or noread/nowrite); ask an operator.' },
  BROKEN: { retryable: false, http: 409, exit: 1, hint: 'Too many volumes went NOACCESS on this robot; the library is BROKEN until `tapestry library reset`.' },
  TOO_MANY_RETRIES: { retryable: false, http: 503, exit: 1, hint: 'The transfer failed on every retry.' },
  TIMEOUT: { retryable: true, http: 504, exit: 1, hint: 'An operation timed out.' },
  UNAVAILABLE: { retryable: true, http: 503, exit: 1, hint: 'The Tapestry service (API or database) cannot be reached.' },
  SCHEMA_TOO_NEW: { retryable: false, http: 500, exit: 1, hint: 'The database schema is newer than this code; upgrade Tapestry before starting it.' },
  SCHEMA_MISMATCH: { retryable: false, http: 500, exit: 1, hint: 'An applied migration differs from the shipped one; migrations are append-only.' },
  INTERNAL: { retryable: false, http: 500, exit: 1, hint: 'An unexpected error; see the logs.' },
  CLIENT_GONE: { retryable: false, http: 409, exit: 1, hint: 'The client closed the data connection (or refused it) mid-transfer and is taken to have given up; nothing was registered. Run encp again.' },
  CANCELLED: { retryable: false, http: 409, exit: 1, hint: 'An operator cancelled the request (`tapestry request cancel`); submit it again if it is still wanted.' },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERROR_CATALOGUE, value);
}

export function errorSpec(code: ErrorCode): ErrorSpec {
  return ERROR_CATALOGUE[code];
}
