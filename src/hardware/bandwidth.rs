//! `detect --measure`: a STREAM-like multi-threaded memory read-bandwidth probe.
//!
//! Method (documented because the figure is only as good as it): one buffer of
//! `max(256 MiB, 8 × L3)` u64 words — capped at 2 GiB and at a quarter of available memory — is
//! filled once, split into one contiguous slice per thread, and every thread sums its
//! slice with eight independent accumulators (so the compiler vectorises the loads and
//! no thread waits on a dependency chain). All threads start together at a barrier; one
//! pass is the wall time until the last thread finishes. Passes repeat until 1.5 s of
//! measuring has elapsed (at least 3 passes, at most 20); the best pass is reported, as
//! STREAM reports its best time. Bytes read / seconds / 1e9 = decimal GB/s. Only reads
//! are timed (the "Sum" kernel, not STREAM's Copy/Triad, which also write), so the figure
//! compares directly with decode's weight streaming. This is the only probe that takes
//! time; it runs only when asked.

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

const MIN_BUFFER: u64 = 256 * 1024 * 1024;
/// Filling more than this would eat the time budget on big-cache server parts.
const MAX_BUFFER: u64 = 2 * 1024 * 1024 * 1024;
const MEASURE_FOR: Duration = Duration::from_millis(1500);

/// The result and how it was obtained.
#[derive(Clone, Debug)]
pub struct Measurement {
    pub gbs: f64,
    pub threads: usize,
    pub buffer_bytes: u64,
    pub passes: u32,
}

/// Measures read bandwidth with `threads` threads. `l3_bytes` sizes the buffer past the
/// caches; `available_bytes` caps it. `None` if the buffer cannot be allocated.
pub fn measure(
    threads: usize,
    l3_bytes: Option<u64>,
    available_bytes: Option<u64>,
) -> Option<Measurement> {
    let threads = threads.max(1);
    let mut bytes = MIN_BUFFER
        .max(l3_bytes.unwrap_or(0).saturating_mul(8))
        .min(MAX_BUFFER);
    if let Some(avail) = available_bytes {
        bytes = bytes.min(avail / 4);
    }
    let words = usize::try_from(bytes / 8).ok()?;
    let per = words / threads;
    if per < 1024 {
        return None;
    }
    let mut buf: Vec<u64> = Vec::new();
    buf.try_reserve_exact(per * threads).ok()?;
    // Non-zero, position-dependent contents so nothing can be folded away.
    buf.extend((0..per * threads).map(|i| i as u64 ^ 0x9E37_79B9));
    let buf: Arc<Vec<u64>> = Arc::new(buf);

    let mut best = f64::INFINITY;
    let mut passes = 0u32;
    let started = Instant::now();
    while passes < 20 && (passes < 3 || started.elapsed() < MEASURE_FOR) {
        let barrier = Arc::new(Barrier::new(threads + 1));
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let buf = Arc::clone(&buf);
                let barrier = Arc::clone(&barrier);
                std::thread::spawn(move || {
                    barrier.wait();
                    let slice = &buf[t * per..(t + 1) * per];
                    std::hint::black_box(sum8(slice))
                })
            })
            .collect();
        barrier.wait();
        let t0 = Instant::now();
        for h in handles {
            let _ = h.join();
        }
        best = best.min(t0.elapsed().as_secs_f64());
        passes += 1;
    }
    let read = (per * threads * 8) as f64;
    Some(Measurement {
        gbs: read / best / 1e9,
        threads,
        buffer_bytes: read as u64,
        passes,
    })
}

/// Sums with eight independent lanes (vectorisable, no loop-carried dependency chain).
fn sum8(s: &[u64]) -> u64 {
    let mut acc = [0u64; 8];
    let chunks = s.chunks_exact(8);
    let rest = chunks.remainder();
    for c in chunks {
        for i in 0..8 {
            acc[i] = acc[i].wrapping_add(c[i]);
        }
    }
    let tail = rest.iter().fold(0u64, |a, &b| a.wrapping_add(b));
    acc.iter().fold(tail, |a, &b| a.wrapping_add(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sum8_matches_a_plain_sum() {
        let v: Vec<u64> = (0..1003).collect();
        assert_eq!(sum8(&v), v.iter().sum::<u64>());
    }
}
