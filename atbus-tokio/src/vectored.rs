//! A tokio writer as a `futures_io::AsyncWrite` that keeps its vectored writes.
//!
//! `tokio_util::compat` leaves `poll_write_vectored` to futures-io's default, which writes the
//! first non-empty slice only: the run loop's batches of frames (and the spliced payloads of
//! large messages) left one `send` per slice (`strace -c` on B4's TCP 64 KiB case: three
//! `sendto` per message). tokio's socket halves implement `writev`; this passes it through.

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll};

/// `W`, a tokio writer, as a futures-io writer.
pub(crate) struct VectoredWriter<W>(pub(crate) W);

impl<W: tokio::io::AsyncWrite + Unpin> futures_io::AsyncWrite for VectoredWriter<W> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().0).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().0).poll_write_vectored(cx, bufs)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_lite::{AsyncReadExt as _, AsyncWriteExt as _};
    use tokio_util::compat::TokioAsyncReadCompatExt as _;

    #[tokio::test]
    async fn one_vectored_write_takes_every_slice() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let client = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (server, _) = listener.accept().await.unwrap();
        let mut server = server.compat();
        let (_, write) = client.into_split();
        let mut writer = VectoredWriter(write);
        let slices = [
            IoSlice::new(b"ab"),
            IoSlice::new(b"cde"),
            IoSlice::new(b"f"),
        ];
        let written = writer.write_vectored(&slices).await.unwrap();
        // A fresh socket buffer takes six bytes at once: all three slices went in one write.
        assert_eq!(written, 6);
        let mut got = [0u8; 6];
        server.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"abcdef");
    }
}
