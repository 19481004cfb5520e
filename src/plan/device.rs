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

/// A device that holds tensors and runs part of the graph: a [`Unit`] of a host.
///
/// Packed into one word (host in the top byte, then 0 for the CPU or 1 + the GPU index)
/// because the placement search compares device ids per tensor per candidate; order is
/// by host, then the CPU before the GPUs in index order.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct DeviceId(u32);

/// GPU indices a [`DeviceId`] can hold (24 bits less the CPU's code).
const UNIT_BITS: u32 = 24;
const UNIT_MASK: u32 = (1 << UNIT_BITS) - 1;

impl DeviceId {
    /// The main host's CPU and system RAM: token embeddings, the graph input and the
    /// CPU-resident weights of a local plan live here.
    pub const CPU: DeviceId = DeviceId::on(HostId::MAIN, Unit::Cpu);

    /// A GPU of the main host, by its index in `HardwareSnapshot::gpus`.
    pub const fn gpu(index: u32) -> DeviceId {
        DeviceId::on(HostId::MAIN, Unit::Gpu(index))
    }

    /// A unit of any host. GPU indices beyond 2^24 - 2 are clamped (no machine has them).
    pub const fn on(host: HostId, unit: Unit) -> DeviceId {
        let code = match unit {
            Unit::Cpu => 0,
            Unit::Gpu(i) if i < UNIT_MASK - 1 => i + 1,
            Unit::Gpu(_) => UNIT_MASK,
        };
        DeviceId(((host.0 as u32) << UNIT_BITS) | code)
    }

    pub const fn host(self) -> HostId {
        HostId((self.0 >> UNIT_BITS) as u16)
    }

    pub const fn unit(self) -> Unit {
        match self.0 & UNIT_MASK {
            0 => Unit::Cpu,
            code => Unit::Gpu(code - 1),
        }
    }

    /// The GPU index on its host, `None` for a CPU.
    pub fn gpu_index(self) -> Option<u32> {
        match self.unit() {
            Unit::Gpu(i) => Some(i),
            Unit::Cpu => None,
        }
    }

    pub fn is_gpu(self) -> bool {
        self.0 & UNIT_MASK != 0
    }
}

impl std::fmt::Debug for DeviceId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.host(), self.unit()) {
            (HostId::MAIN, Unit::Cpu) => f.write_str("CPU"),
            (HostId::MAIN, Unit::Gpu(i)) => write!(f, "GPU{i}"),
            (h, Unit::Cpu) => write!(f, "host{}:CPU", h.0),
            (h, Unit::Gpu(i)) => write!(f, "host{}:GPU{i}", h.0),
        }
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
        // Host and unit round-trip; another host's devices sort after the main host's.
        let remote = DeviceId::on(HostId(2), Unit::Gpu(5));
        assert_eq!((remote.host(), remote.unit()), (HostId(2), Unit::Gpu(5)));
        assert_eq!(DeviceId::on(HostId(1), Unit::Cpu).unit(), Unit::Cpu);
        assert!(remote > DeviceId::gpu(100) && remote != DeviceId::gpu(5));
        assert_eq!(
            format!("{:?} {:?}", DeviceId::gpu(1), remote),
            "GPU1 host2:GPU5"
        );
    }
}
