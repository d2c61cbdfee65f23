//! SPDY/3.1 framing (draft-mbelshe-httpbis-spdy-00 as moby/spdystream speaks it), which no
//! maintained crate offers: the frames, their encoding and incremental decoding, and the
//! compressed header blocks of the streams a client opens.
//!
//! Header blocks are zlib streams, one per direction for the whole connection, flushed with
//! Z_SYNC_FLUSH after each block. Blocks we send are compressed without the SPDY/3 preset
//! dictionary (the zlib header says so, and Go's `zlib.NewReaderDict` then reads without
//! it); blocks we receive are only skipped, since nothing a kubelet replies in them matters.
//! So the dictionary itself is never needed.
//!
//! There is no flow control, as in spdystream: SETTINGS and WINDOW_UPDATE are parsed and
//! ignored, and backpressure comes from TCP.

use bytes::{Buf, BufMut, Bytes, BytesMut};

/// Control frame types.
const SYN_STREAM: u16 = 1;
const SYN_REPLY: u16 = 2;
const RST_STREAM: u16 = 3;
const SETTINGS: u16 = 4;
const PING: u16 = 6;
const GOAWAY: u16 = 7;
const HEADERS: u16 = 8;
const WINDOW_UPDATE: u16 = 9;

/// `FLAG_FIN` on data and SYN frames.
pub const FLAG_FIN: u8 = 0x01;
/// RST_STREAM status CANCEL, what spdystream's `Reset` sends.
pub const CANCEL: u32 = 5;
/// RST_STREAM status REFUSED_STREAM.
pub const REFUSED_STREAM: u32 = 3;
/// The largest payload a frame's 24-bit length can carry.
pub const MAX_PAYLOAD: usize = (1 << 24) - 1;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    SynStream { stream_id: u32, flags: u8, block: Bytes },
    SynReply { stream_id: u32, flags: u8 },
    RstStream { stream_id: u32, status: u32 },
    Settings,
    Ping { id: u32 },
    GoAway { last_good: u32, status: u32 },
    Headers { stream_id: u32 },
    WindowUpdate { stream_id: u32, delta: u32 },
    Data { stream_id: u32, flags: u8, data: Bytes },
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SpdyError {
    #[error("invalid control frame type {0}")]
    UnknownControlType(u16),
    #[error("invalid {0} frame: length {1}")]
    BadLength(&'static str, usize),
    #[error("header block compression failed: {0}")]
    Compress(String),
}

impl Frame {
    /// Appends the frame's encoding.
    pub fn encode(&self, out: &mut BytesMut) {
        let control = |out: &mut BytesMut, kind: u16, flags: u8, len: usize| {
            out.put_u16(0x8000 | 3);
            out.put_u16(kind);
            out.put_u32((u32::from(flags) << 24) | (len as u32 & 0x00ff_ffff));
        };
        match self {
            Frame::SynStream { stream_id, flags, block } => {
                control(out, SYN_STREAM, *flags, 10 + block.len());
                out.put_u32(stream_id & 0x7fff_ffff);
                out.put_u32(0);
                out.put_u8(0);
                out.put_u8(0);
                out.put_slice(block);
            }
            Frame::SynReply { stream_id, flags } => {
                // An empty header block would need the peer's compression context; replies
                // are never sent by this side.
                control(out, SYN_REPLY, *flags, 4);
                out.put_u32(stream_id & 0x7fff_ffff);
            }
            Frame::RstStream { stream_id, status } => {
                control(out, RST_STREAM, 0, 8);
                out.put_u32(stream_id & 0x7fff_ffff);
                out.put_u32(*status);
            }
            Frame::Settings => {
                control(out, SETTINGS, 0, 4);
                out.put_u32(0);
            }
            Frame::Ping { id } => {
                control(out, PING, 0, 4);
                out.put_u32(*id);
            }
            Frame::GoAway { last_good, status } => {
                control(out, GOAWAY, 0, 8);
                out.put_u32(last_good & 0x7fff_ffff);
                out.put_u32(*status);
            }
            Frame::Headers { stream_id } => {
                control(out, HEADERS, 0, 4);
                out.put_u32(stream_id & 0x7fff_ffff);
            }
            Frame::WindowUpdate { stream_id, delta } => {
                control(out, WINDOW_UPDATE, 0, 8);
                out.put_u32(stream_id & 0x7fff_ffff);
                out.put_u32(delta & 0x7fff_ffff);
            }
            Frame::Data { stream_id, flags, data } => {
                out.put_u32(stream_id & 0x7fff_ffff);
                out.put_u32((u32::from(*flags) << 24) | (data.len() as u32 & 0x00ff_ffff));
                out.put_slice(data);
            }
        }
    }

    /// Takes one whole frame off the front of `buf`; `None` while it is incomplete.
    pub fn decode(buf: &mut BytesMut) -> Result<Option<Frame>, SpdyError> {
        if buf.len() < 8 {
            return Ok(None);
        }
        let word = u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]);
        let (flags, len) = ((word >> 24) as u8, (word & 0x00ff_ffff) as usize);
        if buf.len() < 8 + len {
            return Ok(None);
        }
        let head = buf.split_to(8);
        let mut body = buf.split_to(len).freeze();
        if head[0] & 0x80 == 0 {
            let stream_id = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) & 0x7fff_ffff;
            return Ok(Some(Frame::Data { stream_id, flags, data: body }));
        }
        let kind = u16::from_be_bytes([head[2], head[3]]);
        let need = |name: &'static str, min: usize, exact: bool| {
            if len < min || (exact && len != min) {
                Err(SpdyError::BadLength(name, len))
            } else {
                Ok(())
            }
        };
        let frame = match kind {
            SYN_STREAM => {
                need("SYN_STREAM", 10, false)?;
                let stream_id = body.get_u32() & 0x7fff_ffff;
                body.advance(6);
                Frame::SynStream { stream_id, flags, block: body }
            }
            SYN_REPLY => {
                need("SYN_REPLY", 4, false)?;
                Frame::SynReply { stream_id: body.get_u32() & 0x7fff_ffff, flags }
            }
            RST_STREAM => {
                need("RST_STREAM", 8, true)?;
                Frame::RstStream { stream_id: body.get_u32() & 0x7fff_ffff, status: body.get_u32() }
            }
            SETTINGS => {
                need("SETTINGS", 4, false)?;
                let count = body.get_u32() as usize;
                if count.checked_mul(8) != Some(len - 4) {
                    return Err(SpdyError::BadLength("SETTINGS", len));
                }
                Frame::Settings
            }
            PING => {
                need("PING", 4, true)?;
                Frame::Ping { id: body.get_u32() }
            }
            GOAWAY => {
                need("GOAWAY", 8, true)?;
                Frame::GoAway { last_good: body.get_u32() & 0x7fff_ffff, status: body.get_u32() }
            }
            HEADERS => {
                need("HEADERS", 4, false)?;
                Frame::Headers { stream_id: body.get_u32() & 0x7fff_ffff }
            }
            WINDOW_UPDATE => {
                need("WINDOW_UPDATE", 8, true)?;
                Frame::WindowUpdate { stream_id: body.get_u32() & 0x7fff_ffff, delta: body.get_u32() & 0x7fff_ffff }
            }
            other => return Err(SpdyError::UnknownControlType(other)),
        };
        Ok(Some(frame))
    }
}

/// The sending side's header compression context.
pub struct HeaderWriter {
    z: flate2::Compress,
}

impl Default for HeaderWriter {
    fn default() -> Self {
        HeaderWriter { z: flate2::Compress::new(flate2::Compression::default(), true) }
    }
}

impl HeaderWriter {
    /// A compressed header block: `u32` pair count, then length-prefixed lowercase names and
    /// values.
    pub fn block(&mut self, pairs: &[(&str, &str)]) -> Result<Bytes, SpdyError> {
        let mut raw = BytesMut::new();
        raw.put_u32(pairs.len() as u32);
        for (k, v) in pairs {
            let k = k.to_ascii_lowercase();
            raw.put_u32(k.len() as u32);
            raw.put_slice(k.as_bytes());
            raw.put_u32(v.len() as u32);
            raw.put_slice(v.as_bytes());
        }
        let mut out = Vec::with_capacity(raw.len() + 64);
        let mut input: &[u8] = &raw;
        loop {
            out.reserve(256);
            let before = self.z.total_in();
            self.z
                .compress_vec(input, &mut out, flate2::FlushCompress::Sync)
                .map_err(|e| SpdyError::Compress(e.to_string()))?;
            let used = (self.z.total_in() - before) as usize;
            input = &input[used..];
            // Done when everything went in and the flush left room to spare.
            if input.is_empty() && out.len() < out.capacity() {
                break;
            }
        }
        Ok(Bytes::from(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(f: Frame) {
        let mut b = BytesMut::new();
        f.encode(&mut b);
        let whole = b.clone();
        // Every prefix is incomplete; the whole is one frame and nothing else.
        for cut in 0..whole.len() {
            let mut part = BytesMut::from(&whole[..cut]);
            assert_eq!(Frame::decode(&mut part).unwrap(), None, "{f:?} cut at {cut}");
        }
        assert_eq!(Frame::decode(&mut b).unwrap(), Some(f));
        assert!(b.is_empty());
    }

    #[test]
    fn frames_round_trip() {
        roundtrip(Frame::Data { stream_id: 5, flags: FLAG_FIN, data: Bytes::from_static(b"hello") });
        roundtrip(Frame::Data { stream_id: 7, flags: 0, data: Bytes::new() });
        roundtrip(Frame::SynStream { stream_id: 1, flags: 0, block: Bytes::from_static(b"\x78\x01abc") });
        roundtrip(Frame::SynReply { stream_id: 3, flags: 0 });
        roundtrip(Frame::RstStream { stream_id: 9, status: CANCEL });
        roundtrip(Frame::Ping { id: 2 });
        roundtrip(Frame::GoAway { last_good: 11, status: 0 });
        roundtrip(Frame::WindowUpdate { stream_id: 1, delta: 65536 });
        roundtrip(Frame::Settings);
    }

    #[test]
    fn wire_bytes_match_the_protocol() {
        let mut b = BytesMut::new();
        Frame::Ping { id: 1 }.encode(&mut b);
        assert_eq!(&b[..], &[0x80, 0x03, 0x00, 0x06, 0x00, 0x00, 0x00, 0x04, 0, 0, 0, 1]);
        let mut b = BytesMut::new();
        Frame::Data { stream_id: 3, flags: FLAG_FIN, data: Bytes::from_static(b"x") }.encode(&mut b);
        assert_eq!(&b[..], &[0, 0, 0, 3, 0x01, 0, 0, 1, b'x']);
        // A SYN_REPLY as spdystream sends it, with a (dictionary-compressed) header block.
        let mut b = BytesMut::from(
            &[
                0x80, 0x03, 0x00, 0x02, 0x00, 0x00, 0x00, 0x0c, 0, 0, 0, 1, 0x78, 0xf9, 0xe3, 0xc6, 0xa7, 0xc2, 0x02,
                0xa6,
            ][..],
        );
        assert_eq!(Frame::decode(&mut b).unwrap(), Some(Frame::SynReply { stream_id: 1, flags: 0 }));
    }

    #[test]
    fn malformed_frames_are_refused() {
        let mut b = BytesMut::from(&[0x80, 0x03, 0x00, 0x0a, 0, 0, 0, 0][..]);
        assert_eq!(Frame::decode(&mut b), Err(SpdyError::UnknownControlType(10)));
        let mut b = BytesMut::from(&[0x80, 0x03, 0x00, 0x06, 0, 0, 0, 3, 0, 0, 0][..]);
        assert_eq!(Frame::decode(&mut b), Err(SpdyError::BadLength("PING", 3)));
        let mut b = BytesMut::from(&[0x80, 0x03, 0x00, 0x04, 0, 0, 0, 8, 0, 0, 0, 9, 0, 0, 0, 0][..]);
        assert_eq!(Frame::decode(&mut b), Err(SpdyError::BadLength("SETTINGS", 8)));
        let mut b = BytesMut::from(&[0x80, 0x03, 0x00, 0x01, 0, 0, 0, 2, 0, 0][..]);
        assert_eq!(Frame::decode(&mut b), Err(SpdyError::BadLength("SYN_STREAM", 2)));
    }

    #[test]
    fn header_blocks_share_one_zlib_stream() {
        let mut w = HeaderWriter::default();
        let a = w.block(&[("streamType", "error")]).unwrap();
        let b = w.block(&[("streamtype", "stdin"), ("port", "80")]).unwrap();
        assert!(a[0] == 0x78 && a[1] & 0x20 == 0, "a zlib header without a preset dictionary: {:x?}", &a[..2]);
        assert!(a.ends_with(&[0, 0, 0xff, 0xff]) && b.ends_with(&[0, 0, 0xff, 0xff]));
        // The reader keeps one context across blocks, as spdystream does.
        let mut z = flate2::Decompress::new(true);
        let mut out = Vec::with_capacity(256);
        z.decompress_vec(&a, &mut out, flate2::FlushDecompress::Sync).unwrap();
        let first = out.clone();
        assert_eq!(&first[..], b"\0\0\0\x01\0\0\0\x0astreamtype\0\0\0\x05error");
        out.clear();
        z.decompress_vec(&b, &mut out, flate2::FlushDecompress::Sync).unwrap();
        assert_eq!(&out[..], b"\0\0\0\x02\0\0\0\x0astreamtype\0\0\0\x05stdin\0\0\0\x04port\0\0\0\x0280");
    }
}
