// native room: the storage error type, carrying the Kafka error code the broker returns for it.
use std::fmt;
use std::io;

pub const OFFSET_OUT_OF_RANGE: i32 = 1;
pub const CORRUPT_MESSAGE: i32 = 2;
pub const MESSAGE_TOO_LARGE: i32 = 10;
pub const KAFKA_STORAGE_ERROR: i32 = 56;
pub const UNSUPPORTED_COMPRESSION_TYPE: i32 = 76;
pub const INVALID_RECORD: i32 = 87;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageErr {
    pub code: i32,
    pub message: String,
}

impl StorageErr {
    pub fn new(code: i32, message: impl Into<String>) -> Self {
        StorageErr {
            code,
            message: message.into(),
        }
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
