//! The `stdout` device: lines go to the server's standard output.

use std::io::{self, Write};

use super::Sink;

/// Standard output (shared with the process; each batch is one locked write).
pub(crate) struct StdoutSink {
    open: bool,
}

impl StdoutSink {
    pub(crate) fn new() -> StdoutSink {
        StdoutSink { open: false }
    }
}

impl Sink for StdoutSink {
    fn open(&mut self) -> io::Result<()> {
        self.open = true;
        Ok(())
    }

    fn is_open(&self) -> bool {
        self.open
    }

    fn close(&mut self) {
        self.open = false;
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        let mut out = io::stdout().lock();
        out.write_all(buf)?;
        out.flush()
    }

    fn sync(&mut self) -> io::Result<()> {
        Ok(())
    }

    fn is_stream(&self) -> bool {
        true
    }
}
