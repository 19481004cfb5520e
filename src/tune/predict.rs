//! The speed model as tune sees it: a prediction per measured configuration.
//!
//! [`SpeedModel`] is the thin seam to the performance model: `baseline::PerfSpeedModel`
//! implements it with `perf::predict`; tests implement it with fixed numbers. Nothing
//! here predicts anything itself.

use crate::plan::Performance;
use crate::tune::calibration::AssumedBandwidths;
use crate::tune::config::BenchConfig;

/// Predicts speed for one configuration, uncalibrated.
pub trait SpeedModel {
    fn predict(&self, config: &BenchConfig) -> Performance;
    /// The effective bandwidths the model assumed, so a calibration can restate its
    /// factors as bandwidths.
    fn assumed_bandwidths(&self) -> AssumedBandwidths;
}
