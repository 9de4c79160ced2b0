// storage/ room (ts engine): the error a bounded decompression throws once its output passes the
// limit it was given (the engine refuses such a batch with INVALID_RECORD).
export class OutputLimitError extends Error {
  constructor(readonly limit: number) {
    super(`output exceeds the limit of ${limit} bytes`);
    this.name = 'OutputLimitError';
  }
}
