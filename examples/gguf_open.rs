//! Opens GGUF headers and prints what was read and how long `GgufFile::open` took.
//!
//! `cargo run --release --example gguf_open -- FILE...` (`--write-sparse PATH` first
//! writes a sparse 20+ GB qwen3moe-shaped file with the library's writer). A measuring
//! aid for the header reader; it decides nothing and is not part of the CLI.

use rigplan::gguf::writer::GgufWriter;
use rigplan::gguf::{GgmlType, GgufFile, GgufString, MetaValue};
use std::path::{Path, PathBuf};
use std::time::Instant;

fn write_sparse(path: &Path) -> anyhow::Result<()> {
    let ty = |n: &str| GgmlType::from_name(n).ok_or_else(|| anyhow::anyhow!("no type {n}"));
    let (q4k, q6k, f32t) = (ty("Q4_K")?, ty("Q6_K")?, ty("F32")?);
    let mut w = GgufWriter::new();
    w.meta(
        "general.architecture",
        MetaValue::String(GgufString(b"qwen3moe".to_vec())),
    )
    .meta("qwen3moe.block_count", MetaValue::U32(48));
    // Qwen3-30B-A3B shapes (hidden 2048, 128 experts of 768, vocab 151936).
    w.tensor("token_embd.weight", &[2048, 151_936], q4k)
        .tensor("output.weight", &[2048, 151_936], q6k)
        .tensor("output_norm.weight", &[2048], f32t);
    for l in 0..48 {
        w.tensor(&format!("blk.{l}.attn_q.weight"), &[2048, 4096], q4k)
            .tensor(&format!("blk.{l}.attn_k.weight"), &[2048, 512], q4k)
            .tensor(&format!("blk.{l}.attn_v.weight"), &[2048, 512], q6k)
            .tensor(&format!("blk.{l}.attn_output.weight"), &[4096, 2048], q4k)
            .tensor(
                &format!("blk.{l}.ffn_gate_exps.weight"),
                &[2048, 768, 128],
                q4k,
            )
            .tensor(
                &format!("blk.{l}.ffn_up_exps.weight"),
                &[2048, 768, 128],
                q4k,
            )
            .tensor(
                &format!("blk.{l}.ffn_down_exps.weight"),
                &[768, 2048, 128],
                q6k,
            )
            .tensor(&format!("blk.{l}.attn_norm.weight"), &[2048], f32t);
    }
    let layout = w.write_sparse(path)?;
    println!("wrote {} ({} bytes)", path.display(), layout.file_size);
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--write-sparse") && args.len() >= 2 {
        let path = PathBuf::from(args.remove(1));
        args.remove(0);
        write_sparse(&path)?;
        args.insert(0, path.display().to_string());
    }
    for a in &args {
        let start = Instant::now();
        let f = GgufFile::open(Path::new(a));
        let took = start.elapsed();
        match f {
            Ok(f) => println!(
                "{a}: v{} {} tensors, {} keys, arch '{}', data at {}, file {} bytes, {:?}, open took {:.3} ms",
                f.version,
                f.tensors.len(),
                f.metadata.len(),
                f.architecture(),
                f.data_offset,
                f.file_size,
                f.dialect,
                took.as_secs_f64() * 1e3
            ),
            Err(e) => println!("{e}"),
        }
    }
    Ok(())
}
