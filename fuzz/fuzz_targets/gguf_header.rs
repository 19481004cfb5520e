//! Fuzzes the GGUF header parser with arbitrary bytes: whole files, and prefixes of a
//! file declared larger than the bytes given (the range-reader path). The parser must
//! return a header, a need-more answer or a one-line error; never panic, hang or
//! allocate without bound.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rigplan::gguf::reader::{parse_bytes, parse_prefix, Prefix, MAX_HEADER_BYTES};
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let path = Path::new("fuzz.gguf");
    if let Ok(f) = parse_bytes(path, data) {
        for t in &f.tensors {
            assert!(f.data_offset + t.offset + t.n_bytes <= f.file_size);
        }
    }
    // The same bytes as the prefix of a 20 GB file, as a remote read would see them.
    let declared = 20u64 << 30;
    match parse_prefix(path, data, declared) {
        Ok(Prefix::NeedMore { at_least }) => {
            assert!(at_least > data.len() as u64);
            assert!(at_least <= MAX_HEADER_BYTES);
        }
        Ok(Prefix::Complete(_)) | Err(_) => {}
    }
});
