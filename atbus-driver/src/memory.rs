//! `mem://name`: byte streams between nodes of the same process, through bounded in-memory
//! pipes. A node listening on `mem://name` registers the name process-wide; a node connecting
//! to it gets one end of a pair of pipes, the listener the other.

use std::collections::HashMap;
use std::io;
use std::sync::{Mutex, OnceLock};

use crate::runtime::{BoxFuture, StreamListener, StreamSocket};

/// Bytes a pipe holds before its writer waits (like a socket buffer).
const PIPE_CAPACITY: usize = 256 * 1024;

/// Listeners by name.
fn listeners() -> &'static Mutex<HashMap<String, async_channel::Sender<StreamSocket>>> {
    static LISTENERS: OnceLock<Mutex<HashMap<String, async_channel::Sender<StreamSocket>>>> =
        OnceLock::new();
    LISTENERS.get_or_init(Mutex::default)
}

/// A `mem://` listener; the name is free again when it is dropped.
pub(crate) struct MemoryListener {
    name: String,
    accepted: async_channel::Receiver<StreamSocket>,
}

impl MemoryListener {
    /// Listens on `mem://name`; refused when another listener has the name.
    pub fn bind(name: &str) -> io::Result<Self> {
        let mut map = listeners().lock().unwrap_or_else(|e| e.into_inner());
        if map.get(name).is_some_and(|tx| !tx.is_closed()) {
            return Err(io::Error::new(
                io::ErrorKind::AddrInUse,
                format!("mem://{name} is already listened on"),
            ));
        }
        let (tx, accepted) = async_channel::bounded(64);
        map.insert(name.to_owned(), tx);
        Ok(Self {
            name: name.to_owned(),
            accepted,
        })
    }
}

impl Drop for MemoryListener {
    fn drop(&mut self) {
        let mut map = listeners().lock().unwrap_or_else(|e| e.into_inner());
        map.remove(&self.name);
    }
}

impl StreamListener for MemoryListener {
    fn accept(&mut self) -> BoxFuture<'_, io::Result<StreamSocket>> {
        Box::pin(async move {
            self.accepted
                .recv()
                .await
                .map_err(|_| io::Error::new(io::ErrorKind::NotConnected, "listener closed"))
        })
    }
}

/// Connects to `mem://name`.
pub(crate) fn connect(name: &str) -> io::Result<StreamSocket> {
    let listener = {
        let map = listeners().lock().unwrap_or_else(|e| e.into_inner());
        map.get(name).cloned()
    };
    let refused = || {
        io::Error::new(
            io::ErrorKind::ConnectionRefused,
            format!("nothing listens on mem://{name}"),
        )
    };
    let listener = listener.ok_or_else(refused)?;
    let (to_listener_r, to_listener_w) = piper::pipe(PIPE_CAPACITY);
    let (to_dialer_r, to_dialer_w) = piper::pipe(PIPE_CAPACITY);
    let theirs = StreamSocket {
        reader: Box::new(to_listener_r),
        writer: Box::new(to_dialer_w),
        peer: "mem://(dialer)".to_owned(),
    };
    listener.try_send(theirs).map_err(|_| refused())?;
    Ok(StreamSocket {
        reader: Box::new(to_dialer_r),
        writer: Box::new(to_listener_w),
        peer: format!("mem://{name}"),
    })
}
