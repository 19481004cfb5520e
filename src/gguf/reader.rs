//! The GGUF header parser: bytes in, a validated [`GgufFile`] or a precise error out.
//!
//! [`parse_prefix`] parses from an in-memory prefix of a file whose total size is known;
//! when the prefix ends before the header does it answers [`Prefix::NeedMore`] with the
//! length it needs, so a caller (a local file, an HTTP range reader) can grow its read
//! and try again (what [`super::remote`] does over HTTP). [`GgufFile::open`] instead
//! parses a local file in one pass, front to back, reading it in bounded chunks as the
//! parser advances: no byte is read or parsed twice and tensor data is never read
//! (beyond the tail of the last chunk). Arrays of strings (a vocabulary, its merges)
//! are kept in one buffer each ([`StringArray`]), not one allocation per string.
//!
//! The bytes are hostile: every count is checked against the bytes that remain in the
//! file before anything is allocated, all arithmetic is checked, the header may not
//! exceed [`MAX_HEADER_BYTES`] and metadata may not hold more than [`MAX_META_VALUES`]
//! values in all, so memory stays bounded whatever the file says. Every defect is a
//! [`GgufError::Malformed`] naming the byte offset of the offending field. This module
//! must not panic, must not read past the header and knows nothing of architectures.

use super::types::{Dialect, GgmlType};
use super::{decode_number, fixed_size, NumberArray, COMPACT_NUMBERS_MIN};
use super::{GgufError, GgufFile, GgufString, MetaValue, StringArray, TensorInfo};
use super::{GGUF_DEFAULT_ALIGNMENT, GGUF_MAGIC};
use std::collections::HashSet;
use std::fs::File;
use std::io::Read;
use std::path::Path;

/// Largest header we accept. Real headers are a few MB (a 262k-token vocabulary with its
/// scores and types is ~10 MB); anything beyond this is treated as malformed.
pub const MAX_HEADER_BYTES: u64 = 256 << 20;

/// Most metadata values (array elements included) we hold in memory. Real files hold
/// about 1M (three or four arrays over a 262k vocabulary); each value costs 32 bytes,
/// so this caps metadata at 256 MiB whatever the file claims.
pub const MAX_META_VALUES: u64 = 8 << 20;

/// How deep arrays of arrays may nest.
pub const MAX_ARRAY_DEPTH: u32 = 8;

/// ggml's limit on tensor dimensions (ggml/include/ggml.h `GGML_MAX_DIMS`).
pub const GGML_MAX_DIMS: u32 = 4;

/// ggml's tensor name buffer, terminator included (ggml/include/ggml.h `GGML_MAX_NAME`,
/// 64 in both engines); ggml/src/gguf.cpp rejects names of this length or longer.
pub const GGML_MAX_NAME: usize = 64;

/// First range request for a URL: round trips are what cost, so ask for enough to hold
/// most headers in one go.
pub const INITIAL_READ_BYTES: u64 = 1 << 20;

/// First read of a local file: a header without a vocabulary (tens of KB) fits in it.
/// Reading 1 MiB instead cost ~1.5 ms against 0.15 ms here (measured on a sparse 21 GB
/// file, debug build); a larger header goes on in [`LOCAL_CHUNK_BYTES`] reads.
pub const LOCAL_INITIAL_READ_BYTES: u64 = 64 << 10;

/// Each later read of a local file, once the header has outgrown the first read: large
/// enough that a 10 MB vocabulary takes ~40 reads, small enough that reading past the
/// header's end (into a sparse file's zeros) costs little.
pub const LOCAL_CHUNK_BYTES: u64 = 256 << 10;

/// Outcome of parsing a prefix of a file.
#[derive(Debug)]
pub enum Prefix {
    /// The whole header was in the prefix.
    Complete(Box<GgufFile>),
    /// The prefix ended inside the header: at least this many bytes (from the start of
    /// the file) are needed. Never more than the file size or [`MAX_HEADER_BYTES`].
    NeedMore { at_least: u64 },
}

/// Parses a GGUF header from `prefix`, the first bytes of a file of `file_size` bytes
/// (`prefix.len()` may be anything up to `file_size`). `path` names the file in errors.
pub fn parse_prefix(path: &Path, prefix: &[u8], file_size: u64) -> Result<Prefix, GgufError> {
    let mut p = Parser::new(Source::Prefix(prefix), file_size);
    match p.header(path) {
        Ok(file) => Ok(Prefix::Complete(Box::new(file))),
        Err(Stop::NeedMore(n)) => Ok(Prefix::NeedMore { at_least: n }),
        Err(stop) => Err(stop.into_error(path)),
    }
}

/// Parses a complete in-memory file (what the fuzz target and property tests call).
pub fn parse_bytes(path: &Path, bytes: &[u8]) -> Result<GgufFile, GgufError> {
    match parse_prefix(path, bytes, bytes.len() as u64)? {
        Prefix::Complete(f) => Ok(*f),
        // Cannot happen: with the whole file present the parser reports truncation.
        Prefix::NeedMore { at_least } => Err(GgufError::Malformed {
            path: path.to_path_buf(),
            offset: bytes.len() as u64,
            what: format!("header needs {at_least} bytes"),
        }),
    }
}

/// How much to read next after [`Prefix::NeedMore`]: at least what was asked, and at
/// least four times what we have, so a large header costs a handful of reads.
pub fn next_read_len(have: u64, at_least: u64, file_size: u64) -> u64 {
    at_least
        .max(have.saturating_mul(4))
        .min(file_size)
        .min(MAX_HEADER_BYTES)
}

impl GgufFile {
    /// Reads and validates the header of a local GGUF file in one pass: 64 KiB first,
    /// then 256 KiB chunks while the header goes on, never tensor data (beyond the last
    /// chunk's tail).
    pub fn open(path: &Path) -> Result<GgufFile, GgufError> {
        Ok(open_counting(path)?.0)
    }

    /// Why only ik_llama.cpp can load this file, if that is so.
    pub fn ik_only_reason(&self) -> Option<String> {
        let t = self.tensors.iter().find(|t| t.ggml_type.ik_only())?;
        let id = t.ggml_type.id(Dialect::IkOnly).unwrap_or_default();
        Some(format!(
            "tensor '{}' has type {} (id {id}), which only ik_llama.cpp knows",
            t.name, t.ggml_type
        ))
    }

    /// Whether tensor data is packed in file order, each at the previous one's padded
    /// end: llama.cpp refuses anything else ("tensor '%s' has offset %lu, expected %zu",
    /// ggml/src/gguf.cpp `gguf_init_from_file_impl`); ik_llama.cpp does not check.
    pub fn offsets_are_packed(&self) -> bool {
        let mut expected = 0u64;
        for t in &self.tensors {
            if t.offset != expected {
                return false;
            }
            let padded = t
                .n_bytes
                .checked_add(self.alignment - 1)
                .map(|v| v / self.alignment * self.alignment);
            match padded.and_then(|p| expected.checked_add(p)) {
                Some(next) => expected = next,
                None => return false,
            }
        }
        true
    }

    /// The engines that can load this file as far as its header says: the type ids
    /// each knows and, for llama.cpp, packed tensor offsets (`"llama.cpp"`,
    /// `"ik_llama.cpp"`).
    pub fn loadable_by(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        if self.dialect == Dialect::Mainline && self.offsets_are_packed() {
            out.push("llama.cpp");
        }
        let ik = self.tensors.iter().all(|t| {
            let ty = t.ggml_type;
            ty.traits().ik_id.is_some()
                && (self.dialect == Dialect::IkOnly || ty.traits().ik_id == ty.traits().mainline_id)
        });
        if ik {
            out.push("ik_llama.cpp");
        }
        out
    }
}

/// What [`open_counting`] did to read a header: how many chunks (one bounded
/// `read_to_end` each) and how many bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReadStats {
    pub reads: u64,
    pub bytes_read: u64,
}

/// [`GgufFile::open`], also saying how the file was read (for tests that guard the
/// one-pass design: bytes read stay within one chunk of the header's size).
pub fn open_counting(path: &Path) -> Result<(GgufFile, ReadStats), GgufError> {
    let io = |source| GgufError::Io {
        path: path.to_path_buf(),
        source,
    };
    // A FIFO would block the open until a writer came; a device would never end.
    let not_regular = |meta: &std::fs::Metadata| {
        io(std::io::Error::other(format!(
            "is {}, not a regular file",
            crate::error::input::kind_of(meta)
        )))
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    if !meta.is_file() {
        return Err(not_regular(&meta));
    }
    let mut file = File::open(path).map_err(io)?;
    let meta = file.metadata().map_err(io)?;
    if !meta.is_file() {
        return Err(not_regular(&meta));
    }
    let source = Source::File {
        file: &mut file,
        window: Vec::new(),
        window_start: 0,
        stats: ReadStats::default(),
    };
    let mut p = Parser::new(source, meta.len());
    let parsed = p.header(path);
    let stats = match p.src {
        Source::File { stats, .. } => stats,
        Source::Prefix(_) => ReadStats::default(),
    };
    parsed.map(|f| (f, stats)).map_err(|e| e.into_error(path))
}

/// Why parsing stopped.
enum Stop {
    NeedMore(u64),
    Malformed { offset: u64, what: String },
    Io(std::io::Error),
}

impl Stop {
    fn into_error(self, path: &Path) -> GgufError {
        let path = path.to_path_buf();
        match self {
            Stop::Malformed { offset, what } => GgufError::Malformed { path, offset, what },
            Stop::Io(source) => GgufError::Io { path, source },
            // Only a prefix parse stops for more; `parse_prefix` answers it itself.
            Stop::NeedMore(at_least) => GgufError::Malformed {
                path,
                offset: at_least,
                what: format!("header needs {at_least} bytes"),
            },
        }
    }
}

fn bad(offset: u64, what: impl Into<String>) -> Stop {
    Stop::Malformed {
        offset,
        what: what.into(),
    }
}

/// A tensor info as read, before its type id is resolved.
struct RawTensor {
    name: String,
    dims: Vec<u64>,
    type_id: u32,
    type_at: u64,
    offset: u64,
    offset_at: u64,
}

/// Where the parser's bytes come from.
enum Source<'a> {
    /// A prefix of the file in memory: running out of it means [`Stop::NeedMore`].
    Prefix(&'a [u8]),
    /// A local file read front to back: `window` holds its bytes from `window_start`;
    /// bytes before the parser's position are dropped when the window is refilled.
    File {
        file: &'a mut File,
        window: Vec<u8>,
        window_start: u64,
        stats: ReadStats,
    },
}

struct Parser<'a> {
    src: Source<'a>,
    /// End (absolute) of the bytes in hand that may be taken without further checks:
    /// never past the file size or [`MAX_HEADER_BYTES`].
    ready: u64,
    pos: u64,
    file_size: u64,
    /// Metadata values read so far (array elements included).
    values: u64,
}

/// Smallest encoding of one value of a GGUF type, for checking counts against the
/// bytes that remain before trusting them.
fn min_value_bytes(type_id: u32) -> Option<u64> {
    Some(match type_id {
        0 | 1 | 7 => 1,
        2 | 3 => 2,
        4..=6 => 4,
        8 => 8,
        9 => 12,
        10..=12 => 8,
        _ => return None,
    })
}

fn type_name(type_id: u32) -> &'static str {
    match type_id {
        0 => "u8",
        1 => "i8",
        2 => "u16",
        3 => "i16",
        4 => "u32",
        5 => "i32",
        6 => "f32",
        7 => "bool",
        8 => "string",
        9 => "array",
        10 => "u64",
        11 => "i64",
        12 => "f64",
        _ => "unknown",
    }
}

impl<'a> Parser<'a> {
    fn new(src: Source<'a>, file_size: u64) -> Self {
        let in_hand = match &src {
            Source::Prefix(buf) => buf.len() as u64,
            Source::File { .. } => 0,
        };
        Parser {
            src,
            ready: in_hand.min(file_size).min(MAX_HEADER_BYTES),
            pos: 0,
            file_size,
            values: 0,
        }
    }

    fn remaining(&self) -> u64 {
        self.file_size.saturating_sub(self.pos)
    }

    /// Takes `n` bytes for `what`: malformed if the file ends first, NeedMore if only
    /// the prefix does.
    #[inline]
    fn take(&mut self, n: u64, what: &dyn Fn() -> String) -> Result<&[u8], Stop> {
        // Fast path: the bytes are in hand, so none of the checks below can fail.
        if let Some(end) = self.pos.checked_add(n).filter(|&e| e <= self.ready) {
            let pos = self.pos;
            self.pos = end;
            let (buf, start) = in_hand(&self.src);
            let range = pos.saturating_sub(start) as usize..end.saturating_sub(start) as usize;
            return buf.get(range).ok_or(Stop::NeedMore(end));
        }
        self.take_checked(n, what)
    }

    /// [`Parser::take`] when the bytes are not (all) in hand: reads more of a file, or
    /// says why it cannot.
    fn take_checked(&mut self, n: u64, what: &dyn Fn() -> String) -> Result<&[u8], Stop> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.file_size);
        let Some(end) = end else {
            return Err(bad(
                self.pos,
                format!(
                    "file ends inside {} (needs {n} bytes, {} remain)",
                    what(),
                    self.remaining()
                ),
            ));
        };
        if end > MAX_HEADER_BYTES {
            return Err(bad(
                self.pos,
                format!(
                    "{} would end at byte {end}, past the {} MiB header limit",
                    what(),
                    MAX_HEADER_BYTES >> 20
                ),
            ));
        }
        let pos = self.pos;
        let (buf, start) = match &mut self.src {
            Source::Prefix(buf) => {
                if end > buf.len() as u64 {
                    return Err(Stop::NeedMore(end));
                }
                (&**buf, 0)
            }
            Source::File {
                file,
                window,
                window_start,
                stats,
            } => {
                if end > *window_start + window.len() as u64 {
                    let limit = self.file_size.min(MAX_HEADER_BYTES);
                    refill(file, window, window_start, stats, pos, end, limit).map_err(Stop::Io)?;
                    let have = *window_start + window.len() as u64;
                    self.ready = have.min(limit);
                    if end > have {
                        // The file shrank under us.
                        return Err(bad(
                            pos,
                            format!(
                                "file ends inside {} (needs {n} bytes, {} remain)",
                                what(),
                                have.saturating_sub(pos)
                            ),
                        ));
                    }
                }
                (&window[..], *window_start)
            }
        };
        // Both bounds are within `buf` (checked above), whose length fits usize.
        let slice = buf
            .get((pos - start) as usize..(end - start) as usize)
            .ok_or(Stop::NeedMore(end))?;
        self.pos = end;
        Ok(slice)
    }

    fn u32(&mut self, what: &dyn Fn() -> String) -> Result<u32, Stop> {
        let b = self.take(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&mut self, what: &dyn Fn() -> String) -> Result<u64, Stop> {
        let b = self.take(8, what)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    /// A count of items of at least `min_each` bytes each, checked against what remains.
    fn count(&mut self, min_each: u64, what: &dyn Fn() -> String) -> Result<u64, Stop> {
        let at = self.pos;
        let n = self.u64(what)?;
        let needed = n.checked_mul(min_each);
        let remaining = self.remaining();
        match needed {
            Some(need) if need <= remaining => Ok(n),
            _ => Err(bad(
                at,
                format!(
                    "{} is {n}, which needs {} bytes but only {remaining} remain",
                    what(),
                    needed
                        .map_or_else(|| "more than 2^64".to_string(), |v| format!("at least {v}"))
                ),
            )),
        }
    }

    fn string(&mut self, what: &dyn Fn() -> String) -> Result<Vec<u8>, Stop> {
        Ok(self.str_bytes(what)?.to_vec())
    }

    /// A string's bytes, borrowed from the parser's buffer.
    fn str_bytes(&mut self, what: &dyn Fn() -> String) -> Result<&[u8], Stop> {
        let len = self.count(1, &|| format!("the length of {}", what()))?;
        self.take(len, what)
    }

    /// Counts one metadata value against [`MAX_META_VALUES`].
    fn count_value(&mut self, at: u64, key: &str) -> Result<(), Stop> {
        self.values += 1;
        if self.values > MAX_META_VALUES {
            return Err(bad(
                at,
                format!("metadata holds more than {MAX_META_VALUES} values (at '{key}')"),
            ));
        }
        Ok(())
    }

    fn header(&mut self, path: &Path) -> Result<GgufFile, Stop> {
        let magic: [u8; 4] = self
            .take(4, &|| "the magic number".into())?
            .try_into()
            .map_err(|_| bad(0, "the magic number"))?;
        if magic != GGUF_MAGIC {
            return Err(bad(
                0,
                format!(
                    "not a GGUF file (magic {:?}, expected \"GGUF\")",
                    String::from_utf8_lossy(&magic)
                ),
            ));
        }
        let version = self.u32(&|| "the version".into())?;
        match version {
            2 | 3 => {}
            1 => return Err(bad(4, "GGUF version 1 is not supported (only 2 and 3)")),
            v if matches!(v.swap_bytes(), 1..=3) => {
                return Err(bad(4, "big-endian GGUF is not supported"));
            }
            v => {
                return Err(bad(
                    4,
                    format!("unsupported GGUF version {v} (only 2 and 3)"),
                ))
            }
        }
        // Each tensor info takes at least: name length (8) + n_dims (4) + one dim (8) +
        // type (4) + offset (8) = 32 bytes; each key/value at least 8 + 1 + 4 + 1 = 14.
        let n_tensors = self.count(32, &|| "the tensor count".into())?;
        let n_kv = self.count(14, &|| "the metadata count".into())?;

        let mut metadata = Vec::with_capacity(n_kv.min(1024) as usize);
        let mut seen_keys = HashSet::new();
        let mut alignment = GGUF_DEFAULT_ALIGNMENT;
        for i in 0..n_kv {
            let at = self.pos;
            let key_bytes = self.string(&|| format!("metadata key #{i}"))?;
            if key_bytes.is_empty() {
                return Err(bad(at, format!("metadata key #{i} is empty")));
            }
            let key = String::from_utf8_lossy(&key_bytes).into_owned();
            // Messages show the key escaped and capped: it is the file's, not ours.
            let shown = crate::error::input::quoted(&key);
            if !seen_keys.insert(key_bytes) {
                return Err(bad(at, format!("duplicate metadata key '{shown}'")));
            }
            let type_at = self.pos;
            let type_id = self.u32(&|| format!("the type of '{shown}'"))?;
            let value = self.value(type_id, type_at, &shown, 0)?;
            if key == "general.alignment" {
                alignment = match value {
                    MetaValue::U32(a) if a != 0 && a.is_power_of_two() => a.into(),
                    MetaValue::U32(a) => {
                        return Err(bad(
                            type_at,
                            format!("general.alignment {a} is not a power of two"),
                        ))
                    }
                    _ => {
                        return Err(bad(
                            type_at,
                            format!(
                                "general.alignment must be u32, not {}",
                                type_name(value.type_id())
                            ),
                        ))
                    }
                };
            }
            metadata.push((key, value));
        }

        let mut raw = Vec::with_capacity(n_tensors.min(4096) as usize);
        let mut seen_names = HashSet::new();
        for i in 0..n_tensors {
            let at = self.pos;
            let name_bytes = self.string(&|| format!("the name of tensor #{i}"))?;
            let name = String::from_utf8_lossy(&name_bytes).into_owned();
            if name_bytes.len() >= GGML_MAX_NAME {
                return Err(bad(
                    at,
                    format!(
                        "tensor name of {} bytes is too long (ggml allows at most {})",
                        name_bytes.len(),
                        GGML_MAX_NAME - 1
                    ),
                ));
            }
            if !seen_names.insert(name_bytes) {
                return Err(bad(at, format!("duplicate tensor name '{name}'")));
            }
            let dims_at = self.pos;
            let n_dims = self.u32(&|| format!("the dimension count of tensor '{name}'"))?;
            if n_dims == 0 || n_dims > GGML_MAX_DIMS {
                return Err(bad(
                    dims_at,
                    format!(
                        "tensor '{name}' has {n_dims} dimensions (must be 1 to {GGML_MAX_DIMS})"
                    ),
                ));
            }
            let mut dims = Vec::with_capacity(n_dims as usize);
            for d in 0..n_dims {
                let dim_at = self.pos;
                let v = self.u64(&|| format!("dimension {d} of tensor '{name}'"))?;
                if v == 0 {
                    return Err(bad(dim_at, format!("tensor '{name}' dimension {d} is 0")));
                }
                if v > i64::MAX as u64 {
                    return Err(bad(
                        dim_at,
                        format!("tensor '{name}' dimension {d} is {v}, more than 2^63-1"),
                    ));
                }
                dims.push(v);
            }
            if dims
                .iter()
                .try_fold(1u64, |a, &d| a.checked_mul(d))
                .is_none_or(|n| n > i64::MAX as u64)
            {
                return Err(bad(
                    dims_at,
                    format!("tensor '{name}' has more than 2^63-1 elements ({dims:?})"),
                ));
            }
            let type_at = self.pos;
            let type_id = self.u32(&|| format!("the type of tensor '{name}'"))?;
            let offset_at = self.pos;
            let offset = self.u64(&|| format!("the data offset of tensor '{name}'"))?;
            raw.push(RawTensor {
                name,
                dims,
                type_id,
                type_at,
                offset,
                offset_at,
            });
        }
        let header_end = self.pos;
        let data_offset = if n_tensors > 0 {
            let padded = header_end
                .checked_add(alignment - 1)
                .map(|v| v / alignment * alignment)
                .filter(|&v| v <= self.file_size);
            padded.ok_or_else(|| {
                bad(
                    header_end,
                    format!(
                        "data section would start past the end of the file ({} bytes)",
                        self.file_size
                    ),
                )
            })?
        } else {
            header_end
        };

        let dialect = choose_dialect(&raw)?;
        let mut tensors = Vec::with_capacity(raw.len());
        for r in &raw {
            tensors.push(self.resolve(r, dialect, alignment, data_offset)?);
        }
        check_overlaps(&raw, &tensors)?;
        Ok(GgufFile {
            path: path.to_path_buf(),
            version,
            metadata,
            tensors,
            alignment,
            data_offset,
            file_size: self.file_size,
            dialect,
        })
    }

    fn resolve(
        &self,
        r: &RawTensor,
        dialect: Dialect,
        alignment: u64,
        data_offset: u64,
    ) -> Result<TensorInfo, Stop> {
        let name = &r.name;
        let ggml_type = GgmlType::from_id(r.type_id, dialect).ok_or_else(|| {
            bad(
                r.type_at,
                format!("tensor '{name}' has unknown ggml type id {}", r.type_id),
            )
        })?;
        let block = ggml_type.traits().block_size;
        if r.dims[0] % block != 0 {
            return Err(bad(
                r.type_at,
                format!(
                    "tensor '{name}' rows of {} elements are not a multiple of {ggml_type}'s block size {block}",
                    r.dims[0]
                ),
            ));
        }
        let n_bytes = ggml_type.tensor_size(&r.dims).ok_or_else(|| {
            bad(
                r.type_at,
                format!(
                    "tensor '{name}' byte size overflows ({:?} {ggml_type})",
                    r.dims
                ),
            )
        })?;
        if r.offset % alignment != 0 {
            return Err(bad(
                r.offset_at,
                format!(
                    "tensor '{name}' data offset {} is not a multiple of the alignment {alignment}",
                    r.offset
                ),
            ));
        }
        let end = data_offset
            .checked_add(r.offset)
            .and_then(|v| v.checked_add(n_bytes));
        match end {
            Some(end) if end <= self.file_size => {}
            _ => {
                return Err(bad(
                    r.offset_at,
                    format!(
                        "tensor '{name}' data ({n_bytes} bytes at data offset {}) runs past the end of the file ({} bytes)",
                        r.offset, self.file_size
                    ),
                ))
            }
        }
        Ok(TensorInfo {
            name: r.name.clone(),
            dims: r.dims.clone(),
            ggml_type,
            offset: r.offset,
            n_bytes,
        })
    }

    /// Reads one value of `type_id` (the id has been read already, at `type_at`).
    fn value(
        &mut self,
        type_id: u32,
        type_at: u64,
        key: &str,
        depth: u32,
    ) -> Result<MetaValue, Stop> {
        self.count_value(type_at, key)?;
        let what = || format!("the value of '{key}'");
        Ok(match type_id {
            0 => MetaValue::U8(self.take(1, &what)?[0]),
            1 => MetaValue::I8(self.take(1, &what)?[0] as i8),
            2 => {
                let b = self.take(2, &what)?;
                MetaValue::U16(u16::from_le_bytes([b[0], b[1]]))
            }
            3 => {
                let b = self.take(2, &what)?;
                MetaValue::I16(i16::from_le_bytes([b[0], b[1]]))
            }
            4 => MetaValue::U32(self.u32(&what)?),
            5 => MetaValue::I32(self.u32(&what)? as i32),
            6 => MetaValue::F32(f32::from_bits(self.u32(&what)?)),
            7 => MetaValue::Bool(self.take(1, &what)?[0] != 0),
            8 => MetaValue::String(GgufString(self.string(&what)?)),
            10 => MetaValue::U64(self.u64(&what)?),
            11 => MetaValue::I64(self.u64(&what)? as i64),
            12 => MetaValue::F64(f64::from_bits(self.u64(&what)?)),
            9 => {
                if depth >= MAX_ARRAY_DEPTH {
                    return Err(bad(
                        type_at,
                        format!("'{key}' nests arrays more than {MAX_ARRAY_DEPTH} deep"),
                    ));
                }
                let elem_at = self.pos;
                let elem = self.u32(&|| format!("the element type of '{key}'"))?;
                let Some(min) = min_value_bytes(elem) else {
                    return Err(bad(
                        elem_at,
                        format!("'{key}' is an array of unknown GGUF type {elem}"),
                    ));
                };
                let n = self.count(min, &|| format!("the length of array '{key}'"))?;
                let budget_left = MAX_META_VALUES.saturating_sub(self.values);
                if n > budget_left {
                    return Err(bad(
                        elem_at,
                        format!(
                            "array '{key}' has {n} elements; metadata may hold at most {MAX_META_VALUES} values"
                        ),
                    ));
                }
                if elem == 8 {
                    return self
                        .strings(n, key)
                        .map(|a| MetaValue::Strings(Box::new(a)));
                }
                if let Some(value) = self.numbers_in_hand(elem, n) {
                    return Ok(value);
                }
                let mut items = Vec::with_capacity(n.min(1 << 16) as usize);
                for _ in 0..n {
                    // A nested array's element is its own type id, count and elements,
                    // which is what `value(9, ..)` reads.
                    let at = self.pos;
                    let item = self.value(elem, at, key, depth + 1)?;
                    items.push(item);
                }
                MetaValue::Array(items)
            }
            other => {
                return Err(bad(
                    type_at,
                    format!("'{key}' has unknown GGUF value type {other}"),
                ));
            }
        })
    }
}

impl Parser<'_> {
    /// Reads the `n` elements of an array of strings into one [`StringArray`]: the same
    /// checks, offsets and messages as `n` calls of `value(8, ..)`, two allocations.
    fn strings(&mut self, n: u64, key: &str) -> Result<StringArray, Stop> {
        let what = || format!("the value of '{key}'");
        let too_big = |at| bad(at, format!("'{key}' holds 4 GiB of strings or more"));
        let mut out = StringArray::with_capacity(n.min(1 << 16) as usize, 0);
        let mut done = 0u64;
        while done < n {
            // Every string wholly in hand, in one tight loop: none of the per-element
            // checks can fail there (the value budget was checked for all `n`).
            let (buf, start) = in_hand(&self.src);
            let from = usize::try_from(self.pos.saturating_sub(start)).unwrap_or(usize::MAX);
            let limit = usize::try_from(self.ready.saturating_sub(start)).unwrap_or(0);
            let mut off = from;
            let mut fast = 0u64;
            while done < n && off <= limit.saturating_sub(8) && limit >= 8 {
                let Some(len) = buf
                    .get(off..off + 8)
                    .and_then(|b| b.try_into().ok())
                    .map(u64::from_le_bytes)
                else {
                    break;
                };
                let Some(b) = usize::try_from(len)
                    .ok()
                    .and_then(|l| (off + 8).checked_add(l))
                    .filter(|&e| e <= limit)
                    .and_then(|e| buf.get(off + 8..e))
                else {
                    break;
                };
                if !out.push(b) {
                    return Err(too_big(start + off as u64));
                }
                off += 8 + b.len();
                done += 1;
                fast += 1;
            }
            self.values += fast;
            self.pos += (off - from) as u64;
            if done == n {
                break;
            }
            // One element through the checked path: it reads more of a file, or fails
            // with the element's own offset and message.
            let at = self.pos;
            self.count_value(at, key)?;
            if !out.push(self.str_bytes(&what)?) {
                return Err(too_big(at));
            }
            done += 1;
        }
        Ok(out)
    }

    /// Reads a local file on to `end` if the header may reach it (`end` within the file
    /// and the header limit), so that bulk reads see in hand what element-by-element
    /// reads would have read; otherwise does nothing (the element reads then fail at
    /// the precise element).
    fn bring_in_hand(&mut self, end: u64) -> Result<(), Stop> {
        let limit = self.file_size.min(MAX_HEADER_BYTES);
        if end <= self.ready || end > limit {
            return Ok(());
        }
        if let Source::File {
            file,
            window,
            window_start,
            stats,
        } = &mut self.src
        {
            refill(file, window, window_start, stats, self.pos, end, limit).map_err(Stop::Io)?;
            self.ready = (*window_start + window.len() as u64).min(limit);
        }
        Ok(())
    }

    /// The `n` elements of an array of a fixed-size type when all their bytes can be
    /// brought in hand (so no check of `value` can fail: `n` is within the value
    /// budget): [`MetaValue::Numbers`] from [`COMPACT_NUMBERS_MIN`] elements, else an
    /// `Array`. `None` leaves the position alone.
    fn numbers_in_hand(&mut self, elem: u32, n: u64) -> Option<MetaValue> {
        let size = fixed_size(elem)?;
        let end = n
            .checked_mul(size as u64)
            .and_then(|b| self.pos.checked_add(b))?;
        self.bring_in_hand(end).ok()?;
        if end > self.ready {
            return None;
        }
        let (buf, start) = in_hand(&self.src);
        let from = usize::try_from(self.pos - start).ok()?;
        let bytes = buf.get(from..usize::try_from(end - start).ok()?)?;
        let value = if bytes.len() / size >= COMPACT_NUMBERS_MIN {
            MetaValue::Numbers(Box::new(NumberArray::from_le_bytes(elem, bytes.to_vec())?))
        } else {
            MetaValue::Array(
                bytes
                    .chunks_exact(size)
                    .map(|b| decode_number(elem, b))
                    .collect(),
            )
        };
        self.pos = end;
        self.values += n;
        Some(value)
    }
}

/// The bytes in hand and the file offset of their first byte.
#[inline]
fn in_hand<'s>(src: &'s Source<'_>) -> (&'s [u8], u64) {
    match src {
        Source::Prefix(buf) => (buf, 0),
        Source::File {
            window,
            window_start,
            ..
        } => (window, *window_start),
    }
}

/// Reads the next chunk of a local file into `window`, which holds the file's bytes from
/// `*window_start`: drops the bytes before `pos` (parsed already), then reads until the
/// window reaches `end` and at least one [`LOCAL_CHUNK_BYTES`] past `pos` (the first read:
/// [`LOCAL_INITIAL_READ_BYTES`]), never past `limit`. Stops early only at end of file.
fn refill(
    file: &mut File,
    window: &mut Vec<u8>,
    window_start: &mut u64,
    stats: &mut ReadStats,
    pos: u64,
    end: u64,
    limit: u64,
) -> std::io::Result<()> {
    let chunk = if stats.reads == 0 {
        LOCAL_INITIAL_READ_BYTES
    } else {
        LOCAL_CHUNK_BYTES
    };
    // `pos` ≥ `window_start` and ≤ its end: the parser only moves forward through it.
    let consumed = usize::try_from(pos.saturating_sub(*window_start))
        .unwrap_or(window.len())
        .min(window.len());
    window.drain(..consumed);
    *window_start += consumed as u64;
    let have_end = *window_start + window.len() as u64;
    let target = end.max(pos.saturating_add(chunk)).min(limit).max(end);
    // `target - have_end` ≤ MAX_HEADER_BYTES, so this allocation is bounded.
    let want = usize::try_from(target.saturating_sub(have_end))
        .map_err(|_| std::io::Error::other("header larger than memory"))?;
    window.reserve_exact(want);
    // read_to_end fills spare capacity without zeroing it first, and stops early only
    // at end of file.
    let got = file.take(want as u64).read_to_end(window)?;
    stats.reads += 1;
    stats.bytes_read += got as u64;
    Ok(())
}

/// Decides whose id space the file's tensor types are in. Mainline if mainline knows
/// every id; ik_llama.cpp's if only ik knows them all; otherwise the first id neither
/// explains is an error.
fn choose_dialect(raw: &[RawTensor]) -> Result<Dialect, Stop> {
    let main_ok = |r: &RawTensor| GgmlType::from_id(r.type_id, Dialect::Mainline).is_some();
    let ik_ok = |r: &RawTensor| GgmlType::from_id(r.type_id, Dialect::IkOnly).is_some();
    if raw.iter().all(main_ok) {
        return Ok(Dialect::Mainline);
    }
    if raw.iter().all(ik_ok) {
        return Ok(Dialect::IkOnly);
    }
    if let Some(r) = raw.iter().find(|r| !main_ok(r) && !ik_ok(r)) {
        return Err(bad(
            r.type_at,
            format!(
                "tensor '{}' has unknown ggml type id {} (neither llama.cpp nor ik_llama.cpp knows it)",
                r.name, r.type_id
            ),
        ));
    }
    // Every id is known to one engine, but no single engine knows them all.
    let only_ik = raw.iter().find(|r| !main_ok(r));
    let only_main = raw.iter().find(|r| !ik_ok(r));
    match (only_ik, only_main) {
        (Some(a), Some(b)) => Err(bad(
            b.type_at,
            format!(
                "tensor '{}' has type id {} that only llama.cpp knows, but tensor '{}' has type id {} that only ik_llama.cpp knows",
                b.name, b.type_id, a.name, a.type_id
            ),
        )),
        _ => Err(bad(0, "inconsistent tensor types")),
    }
}

/// Tensors' data ranges may not overlap (ggml lays them out one after another).
fn check_overlaps(raw: &[RawTensor], tensors: &[TensorInfo]) -> Result<(), Stop> {
    let mut order: Vec<usize> = (0..tensors.len()).collect();
    order.sort_by_key(|&i| tensors[i].offset);
    for pair in order.windows(2) {
        let (a, b) = (&tensors[pair[0]], &tensors[pair[1]]);
        // Offsets were checked so that offset + n_bytes fits below the file size.
        let a_end = a.offset.saturating_add(a.n_bytes);
        if a_end > b.offset {
            return Err(bad(
                raw[pair[1]].offset_at,
                format!(
                    "tensor '{}' data (data offset {}) overlaps tensor '{}' (data offsets {}..{a_end})",
                    b.name, b.offset, a.name, a.offset
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gguf::writer::GgufWriter;

    fn s(v: &str) -> MetaValue {
        MetaValue::String(GgufString(v.as_bytes().to_vec()))
    }

    fn every_type() -> Vec<(String, MetaValue)> {
        vec![
            ("u8".into(), MetaValue::U8(200)),
            ("i8".into(), MetaValue::I8(-5)),
            ("u16".into(), MetaValue::U16(65000)),
            ("i16".into(), MetaValue::I16(-300)),
            ("u32".into(), MetaValue::U32(4_000_000_000)),
            ("i32".into(), MetaValue::I32(-70000)),
            ("f32".into(), MetaValue::F32(1.5)),
            ("bool".into(), MetaValue::Bool(true)),
            ("string".into(), s("qwen3moe")),
            (
                "bytes".into(),
                MetaValue::String(GgufString(vec![0xff, 0xfe, b'a'])),
            ),
            ("u64".into(), MetaValue::U64(u64::MAX)),
            ("i64".into(), MetaValue::I64(i64::MIN)),
            ("f64".into(), MetaValue::F64(-2.25)),
            (
                "arr".into(),
                MetaValue::Array(vec![MetaValue::I32(1), MetaValue::I32(-2)]),
            ),
            (
                "strs".into(),
                MetaValue::Array(vec![s("a"), s(""), s("ccc")]),
            ),
            ("empty".into(), MetaValue::Array(vec![])),
            (
                "nested".into(),
                MetaValue::Array(vec![
                    MetaValue::Array(vec![MetaValue::U8(1)]),
                    MetaValue::Array(vec![s("x"), s("y")]),
                    MetaValue::Array(vec![]),
                ]),
            ),
        ]
    }

    fn sample(version: u32) -> GgufWriter {
        let q4k = GgmlType::from_name("Q4_K").unwrap();
        let f32t = GgmlType::from_name("F32").unwrap();
        let mut w = GgufWriter::new();
        w.version(version)
            .metas(every_type())
            .tensor("blk.0.ffn_up.weight", &[512, 64], q4k)
            .tensor("blk.0.norm.weight", &[512], f32t)
            .tensor("blk.0.experts", &[256, 4, 2, 3], q4k);
        w
    }

    #[test]
    fn round_trips_every_value_type_in_v2_and_v3() {
        for version in [2, 3] {
            let w = sample(version);
            let (header, layout) = w.header().unwrap();
            let f = match parse_prefix(Path::new("m.gguf"), &header, layout.file_size).unwrap() {
                Prefix::Complete(f) => f,
                Prefix::NeedMore { at_least } => panic!("needs {at_least}"),
            };
            assert_eq!(f.version, version);
            assert_eq!(f.metadata, every_type());
            assert_eq!(f.data_offset, layout.data_offset);
            assert_eq!(f.dialect, Dialect::Mainline);
            assert_eq!(f.tensors.len(), 3);
            for (t, p) in f.tensors.iter().zip(&layout.tensors) {
                assert_eq!(
                    (&t.name, &t.dims, t.ggml_type, t.offset, t.n_bytes),
                    (&p.name, &p.dims, p.ggml_type, p.offset, p.n_bytes)
                );
            }
            assert_eq!(f.tensors[2].n_bytes, 4 * 2 * 3 * 144);
            assert_eq!(f.loadable_by(), vec!["llama.cpp", "ik_llama.cpp"]);
        }
    }

    #[test]
    fn short_prefix_asks_for_more_and_never_for_more_than_the_header() {
        let (header, layout) = sample(3).header().unwrap();
        let mut have = 16u64;
        let mut rounds = 0;
        loop {
            rounds += 1;
            let prefix = &header[..have as usize];
            match parse_prefix(Path::new("m"), prefix, layout.file_size).unwrap() {
                Prefix::Complete(f) => {
                    assert_eq!(f.tensors.len(), 3);
                    break;
                }
                Prefix::NeedMore { at_least } => {
                    assert!(at_least > have && at_least <= header.len() as u64);
                    have = at_least;
                }
            }
        }
        assert!(rounds > 1);
    }

    #[test]
    fn ik_only_types_select_the_ik_dialect_and_say_why() {
        let iq4ks = GgmlType::from_name("IQ4_KS").unwrap();
        let f32t = GgmlType::from_name("F32").unwrap();
        let mut w = GgufWriter::new();
        w.tensor("a", &[256, 2], iq4ks).tensor("b", &[8], f32t);
        let (header, layout) = w.header().unwrap();
        let Prefix::Complete(f) = parse_prefix(Path::new("m"), &header, layout.file_size).unwrap()
        else {
            panic!("incomplete")
        };
        assert_eq!(f.dialect, Dialect::IkOnly);
        // ik_llama.cpp ggml_row_size: 4 bytes of row metadata + 136 per 256 block.
        assert_eq!(f.tensors[0].n_bytes, 2 * (4 + 136));
        assert_eq!(f.loadable_by(), vec!["ik_llama.cpp"]);
        assert_eq!(
            f.ik_only_reason().unwrap(),
            "tensor 'a' has type IQ4_KS (id 144), which only ik_llama.cpp knows"
        );
    }

    #[test]
    fn llama_cpp_needs_packed_offsets() {
        let f32t = GgmlType::from_name("F32").unwrap();
        let mut w = GgufWriter::new();
        w.tensor("a", &[8], f32t).tensor("b", &[8], f32t);
        let (mut header, layout) = w.header().unwrap();
        let parse = |h: &[u8], size| match parse_prefix(Path::new("m"), h, size).unwrap() {
            Prefix::Complete(f) => f,
            Prefix::NeedMore { .. } => panic!("incomplete"),
        };
        let f = parse(&header, layout.file_size);
        assert!(f.offsets_are_packed());
        assert_eq!(f.loadable_by(), vec!["llama.cpp", "ik_llama.cpp"]);
        // Move 'b' from 32 to 64: still aligned and disjoint, but a gap llama.cpp refuses.
        let at = header
            .windows(8)
            .rposition(|w| w == 32u64.to_le_bytes())
            .unwrap();
        header[at..at + 8].copy_from_slice(&64u64.to_le_bytes());
        let f = parse(&header, layout.file_size + 32);
        assert!(!f.offsets_are_packed());
        assert_eq!(f.loadable_by(), vec!["ik_llama.cpp"]);
    }

    #[test]
    fn open_reads_a_sparse_file_header() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.gguf");
        let layout = sample(3).write_sparse(&path).unwrap();
        let f = GgufFile::open(&path).unwrap();
        assert_eq!(f.file_size, layout.file_size);
        assert_eq!(f.get_str("string").unwrap(), "qwen3moe");
        assert_eq!(f.get_str("bytes").unwrap(), "\u{fffd}\u{fffd}a");
    }

    #[test]
    fn next_read_grows_geometrically_within_limits() {
        assert_eq!(next_read_len(1 << 20, (1 << 20) + 1, 1 << 40), 4 << 20);
        assert_eq!(next_read_len(1 << 20, 9 << 20, 1 << 40), 9 << 20);
        assert_eq!(next_read_len(1 << 20, 9 << 20, 2 << 20), 2 << 20);
        assert_eq!(
            next_read_len(200 << 20, 201 << 20, 1 << 40),
            MAX_HEADER_BYTES
        );
    }
}
