//! Messages from the guest's /init to the host over the results port.
//!
//! Each frame is a header line, the payload, and an end line carrying a
//! checksum, so the host tells a complete message from one cut short by a
//! guest that died or hung mid-write:
//!
//! ```text
//! ISOBENCH/1 results 1234 0\n      kind, payload length, exit code (results only)
//! <1234 bytes>\n
//! ISOBENCH/1 end 9f3a…\n           FNV-1a 64 of the payload
//! ```

use std::fmt;

use crate::sandbox::workload::fnv64;

const TAG: &str = "ISOBENCH/1";

/// One message from the guest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// /init is running: the payload is the guest's uptime in seconds.
    Hello(String),
    /// Something the host should report (e.g. a v1 controller the kernel lacks).
    Note(String),
    /// The run finished: its results JSON and exit code (0 pass, 1 a check failed).
    Results { exit: u8, json: Vec<u8> },
    /// The run could not happen; the message says why.
    Error(String),
}

/// How the byte stream ended after the last complete frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tail {
    /// Nothing after the last frame.
    Clean,
    /// A frame started but did not finish (the guest died or was killed).
    Truncated {
        kind: String,
        have: usize,
        want: usize,
    },
    /// Bytes that are not a frame at all.
    Garbage { offset: usize },
}

impl fmt::Display for Tail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tail::Clean => write!(f, "complete"),
            Tail::Truncated { kind, have, want } => {
                write!(f, "{kind} frame truncated: {have} of {want} bytes")
            }
            Tail::Garbage { offset } => write!(f, "unframed bytes at offset {offset}"),
        }
    }
}

impl Frame {
    fn parts(&self) -> (&'static str, &[u8], Option<u8>) {
        match self {
            Frame::Hello(s) => ("hello", s.as_bytes(), None),
            Frame::Note(s) => ("note", s.as_bytes(), None),
            Frame::Results { exit, json } => ("results", json, Some(*exit)),
            Frame::Error(s) => ("error", s.as_bytes(), None),
        }
    }

    /// The bytes to write to the port.
    pub fn encode(&self) -> Vec<u8> {
        let (kind, payload, exit) = self.parts();
        let mut out = match exit {
            Some(e) => format!("{TAG} {kind} {} {e}\n", payload.len()),
            None => format!("{TAG} {kind} {}\n", payload.len()),
        }
        .into_bytes();
        out.extend_from_slice(payload);
        out.extend_from_slice(format!("\n{TAG} end {:016x}\n", fnv64(payload)).as_bytes());
        out
    }
}

/// Decodes every complete frame of `buf` and says how the stream ended.
pub fn decode(buf: &[u8]) -> (Vec<Frame>, Tail) {
    let mut frames = Vec::new();
    let mut off = 0;
    while off < buf.len() {
        let rest = &buf[off..];
        let Some(nl) = rest.iter().position(|b| *b == b'\n') else {
            // A header still being written is a truncation, not garbage.
            let partial = String::from_utf8_lossy(rest);
            return if TAG.starts_with(partial.as_ref()) || partial.starts_with(TAG) {
                (
                    frames,
                    Tail::Truncated {
                        kind: "unknown".into(),
                        have: 0,
                        want: 0,
                    },
                )
            } else {
                (frames, Tail::Garbage { offset: off })
            };
        };
        let header = String::from_utf8_lossy(&rest[..nl]).to_string();
        let f: Vec<&str> = header.split(' ').collect();
        let (kind, len) = match f.as_slice() {
            [tag, kind, len, ..] if *tag == TAG => match len.parse::<usize>() {
                Ok(l) => (kind.to_string(), l),
                Err(_) => return (frames, Tail::Garbage { offset: off }),
            },
            _ => return (frames, Tail::Garbage { offset: off }),
        };
        let exit = f.get(3).and_then(|e| e.parse::<u8>().ok());
        let body = &rest[nl + 1..];
        if body.len() < len {
            let tail = Tail::Truncated {
                kind,
                have: body.len(),
                want: len,
            };
            return (frames, tail);
        }
        let payload = &body[..len];
        let after = &body[len..];
        let end = format!("\n{TAG} end {:016x}\n", fnv64(payload));
        if after.len() < end.len() && end.as_bytes().starts_with(after) {
            let tail = Tail::Truncated {
                kind,
                have: len,
                want: len,
            };
            return (frames, tail);
        }
        if !after.starts_with(end.as_bytes()) {
            return (
                frames,
                Tail::Garbage {
                    offset: off + nl + 1 + len,
                },
            );
        }
        let text = || String::from_utf8_lossy(payload).to_string();
        frames.push(match kind.as_str() {
            "hello" => Frame::Hello(text()),
            "note" => Frame::Note(text()),
            "error" => Frame::Error(text()),
            "results" => Frame::Results {
                exit: exit.unwrap_or(1),
                json: payload.to_vec(),
            },
            _ => return (frames, Tail::Garbage { offset: off }),
        });
        off += nl + 1 + len + end.len();
    }
    (frames, Tail::Clean)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<Frame> {
        vec![
            Frame::Hello("1.25".into()),
            Frame::Note("v1 memory: not in /proc/cgroups".into()),
            Frame::Results {
                exit: 1,
                json: b"{\"schema\":\"isobench/1\"}\n\nwith\nnewlines".to_vec(),
            },
            Frame::Error(String::new()),
        ]
    }

    #[test]
    fn round_trip() {
        let buf: Vec<u8> = sample().iter().flat_map(Frame::encode).collect();
        let (frames, tail) = decode(&buf);
        assert_eq!(frames, sample());
        assert_eq!(tail, Tail::Clean);
        assert_eq!(decode(b""), (vec![], Tail::Clean));
    }

    #[test]
    fn every_truncation_is_detected_never_mistaken_for_complete() {
        let buf: Vec<u8> = sample()[..3].iter().flat_map(Frame::encode).collect();
        let results_start = sample()[..2]
            .iter()
            .map(|f| f.encode().len())
            .sum::<usize>();
        for cut in results_start..buf.len() {
            let (frames, tail) = decode(&buf[..cut]);
            assert_eq!(frames.len(), 2, "cut at {cut}");
            if cut > results_start {
                assert!(
                    matches!(tail, Tail::Truncated { .. }),
                    "cut at {cut}: {tail:?}"
                );
            }
        }
        let (_, tail) = decode(&buf[..buf.len() - 30]);
        match tail {
            Tail::Truncated { kind, have, want } => {
                assert_eq!(kind, "results");
                assert!(have <= want);
            }
            t => panic!("{t:?}"),
        }
    }

    #[test]
    fn corruption_and_noise_are_garbage() {
        let mut buf = Frame::Error("boom".into()).encode();
        let i = buf.iter().position(|b| *b == b'b').unwrap();
        buf[i] = b'B';
        assert!(matches!(decode(&buf).1, Tail::Garbage { .. }));
        assert_eq!(
            decode(b"random console noise\n").1,
            Tail::Garbage { offset: 0 }
        );
    }
}
