//! Devices: which device holds tensors and runs part of the graph.
//!
//! A device is a compute unit — a CPU backend with its system RAM, or a GPU with its
//! memory — on a host. Today every device is on the host that runs llama-server
//! ([`HostId::MAIN`]). A device of another machine reached over the network (llama.cpp's
//! RPC backend) is the same [`DeviceId`] with that machine's [`HostId`], so code that
//! places tensors on devices or sums memory per device takes it as it is; what a device
//! can hold, how fast it reads and which link reaches it are facts of the hardware
//! description, looked up by id. Names only: nothing here knows a capacity or a speed.

use serde::{Deserialize, Serialize};

/// A machine that holds devices. [`HostId::MAIN`] runs llama-server; other hosts (RPC
/// workers) are numbered from 1 in the order the cluster lists them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct HostId(pub u16);

impl HostId {
    /// The host that runs llama-server and owns the model file.
    pub const MAIN: HostId = HostId(0);
}

/// A compute unit as its own host numbers it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// The CPU backend with the host's system RAM.
    Cpu,
    /// A GPU by its index in the host's `HardwareSnapshot::gpus`.
    Gpu(u32),
}

/// A device that holds tensors and runs part of the graph.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct DeviceId {
    pub host: HostId,
    pub unit: Unit,
}

impl DeviceId {
    /// The main host's CPU and system RAM: token embeddings, the graph input and the
    /// CPU-resident weights of a local plan live here.
    pub const CPU: DeviceId = DeviceId {
        host: HostId::MAIN,
        unit: Unit::Cpu,
    };

    /// A GPU of the main host, by its index in `HardwareSnapshot::gpus`.
    pub const fn gpu(index: u32) -> DeviceId {
        DeviceId {
            host: HostId::MAIN,
            unit: Unit::Gpu(index),
        }
    }

    /// The GPU index on its host, `None` for a CPU.
    pub fn gpu_index(self) -> Option<u32> {
        match self.unit {
            Unit::Gpu(i) => Some(i),
            Unit::Cpu => None,
        }
    }

    pub fn is_gpu(self) -> bool {
        matches!(self.unit, Unit::Gpu(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_main_cpu_sorts_before_its_gpus() {
        let mut v = vec![DeviceId::gpu(1), DeviceId::CPU, DeviceId::gpu(0)];
        v.sort();
        assert_eq!(v, [DeviceId::CPU, DeviceId::gpu(0), DeviceId::gpu(1)]);
        assert_eq!(DeviceId::gpu(3).gpu_index(), Some(3));
        assert_eq!(DeviceId::CPU.gpu_index(), None);
        assert!(DeviceId::gpu(0).is_gpu() && !DeviceId::CPU.is_gpu());
    }
}
