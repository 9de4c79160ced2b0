// native room: the storage error type, carrying the Kafka error code the broker returns for it.
use std::fmt;
use std::io;

pub const OFFSET_OUT_OF_RANGE: i32 = 1;
pub const CORRUPT_MESSAGE: i32 = 2;
pub const MESSAGE_TOO_LARGE: i32 = 10;
pub const INVALID_TIMESTAMP: i32 = 32;
pub const KAFKA_STORAGE_ERROR: i32 = 56;
pub const UNSUPPORTED_COMPRESSION_TYPE: i32 = 76;
pub const INVALID_RECORD: i32 = 87;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageErr {
    pub code: i32,
    pub message: String,
    /// Byte position of the offending batch in the append buffer, when one batch is at fault.
    pub batch_position: Option<usize>,
    /// Index of the offending record inside its batch (what Kafka's produce response reports as
    /// a record error's batchIndex), when one record is at fault.
    pub record_index: Option<i64>,
}

impl StorageErr {
    pub fn new(code: i32, message: impl Into<String>) -> Self {
        StorageErr {
            code,
            message: message.into(),
            batch_position: None,
            record_index: None,
        }
    }

    pub fn at_batch(mut self, position: usize) -> Self {
        self.batch_position = Some(position);
        self
    }

    pub fn at_record(mut self, index: i64) -> Self {
        self.record_index = Some(index);
        self
    }
}

impl fmt::Display for StorageErr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (code {})", self.message, self.code)
    }
}

impl std::error::Error for StorageErr {}

// Any I/O failure under a log directory is what Kafka reports as KAFKA_STORAGE_ERROR.
impl From<io::Error> for StorageErr {
    fn from(e: io::Error) -> Self {
        StorageErr::new(KAFKA_STORAGE_ERROR, format!("I/O error: {e}"))
    }
}

pub type SResult<T> = Result<T, StorageErr>;
