//! The speed model as tune sees it: a prediction per measured configuration.
//!
//! [`SpeedModel`] is the thin seam to the performance model (`perf::predict`). Until
//! `perf` is merged, [`InterimRoofline`] stands in: a bandwidth roofline for CPU decode
//! (every weight byte read once per token at the given memory bandwidth, no efficiency
//! factors, no thread or kernel effects) and no pp prediction. It is deliberately naive —
//! tune measures how far off it is and the calibration records exactly that. It must not
//! grow its own efficiency factors: those belong to `perf`.

use crate::planner::plan::Performance;
use crate::tune::calibration::AssumedBandwidths;
use crate::tune::config::BenchConfig;
use crate::units::{Bytes, GbPerSec};

/// Predicts speed for one configuration, uncalibrated.
pub trait SpeedModel {
    fn predict(&self, config: &BenchConfig) -> Performance;
    /// The bandwidths the model assumed, so a calibration can restate its factors.
    fn assumed_bandwidths(&self) -> AssumedBandwidths;
}

/// Interim adapter (until `perf::predict` is wired): CPU-only decode roofline.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct InterimRoofline {
    /// Weight bytes read per generated token.
    pub bytes_per_token: Bytes,
    /// Memory bandwidth the roofline assumes (theoretical or measured, as given).
    pub bandwidth: GbPerSec,
}

impl SpeedModel for InterimRoofline {
    fn predict(&self, _config: &BenchConfig) -> Performance {
        let bytes = self.bytes_per_token.as_u64().max(1) as f64;
        let tg = self.bandwidth.bytes_per_sec() / bytes;
        Performance {
            tg_tokens_per_s: tg,
            // No compute model here: 0 means "not predicted" and is left out of the fit.
            pp_tokens_per_s: 0.0,
            bottleneck: format!(
                "interim roofline: {} per token from RAM at {}",
                self.bytes_per_token, self.bandwidth
            ),
            ceiling_tg_tokens_per_s: Some(tg),
            calibration: None,
        }
    }

    fn assumed_bandwidths(&self) -> AssumedBandwidths {
        AssumedBandwidths {
            cpu_gbs: Some(self.bandwidth.0),
            gpu_gbs: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tune::config::tests::cpu_settings;

    #[test]
    fn roofline_is_bandwidth_over_bytes() {
        let m = InterimRoofline {
            bytes_per_token: Bytes(100_000_000),
            bandwidth: GbPerSec(10.0),
        };
        let p = m.predict(&BenchConfig::from_settings(&cpu_settings()));
        assert!((p.tg_tokens_per_s - 100.0).abs() < 1e-9);
        assert_eq!(m.assumed_bandwidths().cpu_gbs, Some(10.0));
    }
}
