//! The devices a plan may place tensors on, and what the planner needs of each: its name
//! in the plan, its kind, its capacity, the margin kept free on it and the budget it may
//! fill, and whether it shares system RAM with the CPU.
//!
//! Built once per plan from the hardware description ([`Devices::local`]) and asked by
//! id, so the placement search never re-derives a budget from the snapshot. This is
//! where a second machine slots in: the devices of an RPC worker join the table with
//! their host's [`DeviceId`] and that host's own capacities and margins, and every fit
//! check below takes them as they are. A second model sharing the devices (a draft
//! model) is placed on [`Devices::with_taken`]: the same table less what the first holds.

use super::memory::{self, DeviceBytes};
use crate::hardware::{GpuVendor, HardwareSnapshot};
use crate::plan::{DeviceId, Unit};
use crate::units::Bytes;

/// One device the planner may fill.
#[derive(Clone, Debug, PartialEq)]
pub struct Device {
    pub id: DeviceId,
    /// How the plan's memory table names it ("GPU 0: NVIDIA GeForce RTX 3060").
    pub name: String,
    /// Its memory: system RAM for the CPU, VRAM (or the shared RAM) for a GPU.
    pub capacity: Bytes,
    /// Kept free beyond the plan's own estimate.
    pub margin: Bytes,
    /// What the plan may fill: free (or total) memory minus the margin.
    pub budget: Bytes,
    /// A GPU with unified memory: it and the CPU draw on the same system RAM.
    pub shares_system_ram: bool,
}

/// Every device of the plan's machine(s), CPU first.
#[derive(Clone, Debug, PartialEq)]
pub struct Devices {
    list: Vec<Device>,
}

impl Devices {
    /// The devices of one machine: its CPU with system RAM, then its GPUs in snapshot
    /// order. Budgets: RAM minus the host margin ([`memory::host_margin`]); a GPU's free
    /// (else total) memory minus [`memory::GPU_MARGIN`], an Apple GPU also held to
    /// Metal's working-set limit ([`memory::apple_working_set`]).
    pub fn local(hw: &HardwareSnapshot) -> Devices {
        let ram = Bytes(hw.memory.total_bytes);
        let host_margin = memory::host_margin(ram);
        let mut list = vec![Device {
            id: DeviceId::CPU,
            name: format!("CPU + RAM ({})", hw.cpu.brand),
            capacity: ram,
            margin: host_margin,
            budget: ram - host_margin,
            shares_system_ram: false,
        }];
        for g in &hw.gpus {
            let mut usable = Bytes(g.vram_free_bytes.unwrap_or(g.vram_bytes));
            if g.vendor == GpuVendor::Apple {
                usable = usable.min(memory::apple_working_set(ram));
            }
            let name = if g.unified_memory {
                format!("GPU {}: {} (shares system RAM)", g.index, g.name)
            } else {
                format!("GPU {}: {}", g.index, g.name)
            };
            list.push(Device {
                id: DeviceId::gpu(g.index),
                name,
                capacity: Bytes(g.vram_bytes),
                margin: memory::GPU_MARGIN,
                budget: usable - memory::GPU_MARGIN,
                shares_system_ram: g.unified_memory,
            });
        }
        Devices { list }
    }

    pub fn get(&self, id: DeviceId) -> Option<&Device> {
        self.list.iter().find(|d| d.id == id)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Device> {
        self.list.iter()
    }

    /// What the plan may fill on `id` (nothing on a device the table lacks).
    pub fn budget(&self, id: DeviceId) -> Bytes {
        self.get(id).map_or(Bytes::ZERO, |d| d.budget)
    }

    /// The plan's name for `id`; an unknown GPU is named by its index.
    pub fn name(&self, id: DeviceId) -> String {
        match (self.get(id), id.unit()) {
            (Some(d), _) => d.name.clone(),
            (None, Unit::Gpu(i)) => format!("GPU {i}"),
            (None, Unit::Cpu) => "CPU".into(),
        }
    }

    /// The same devices with what another model already holds taken off their budgets:
    /// the table a second model sharing the machine (a draft model) is placed on. Bytes
    /// on a GPU that shares system RAM are taken off the CPU's budget too, since both
    /// draw on the same RAM.
    pub fn with_taken(&self, taken: &[(DeviceId, DeviceBytes)]) -> Devices {
        let mut out = self.clone();
        for (id, b) in taken {
            let shares = self.get(*id).is_some_and(|d| d.shares_system_ram);
            for d in out.list.iter_mut() {
                if d.id == *id || (shares && d.id == DeviceId::CPU) {
                    d.budget = d.budget - b.total();
                }
            }
        }
        out
    }

    /// What the devices that share system RAM hold together (the CPU side plus every
    /// unified-memory GPU), and a unified GPU that holds some of it; `None` when no
    /// unified-memory GPU holds anything.
    pub fn shared_ram_bytes(&self, mem: &[(DeviceId, DeviceBytes)]) -> Option<(Bytes, DeviceId)> {
        let unified = |d: DeviceId| self.get(d).is_some_and(|x| x.shares_system_ram);
        let mut together = Bytes::ZERO;
        let mut gpu = None;
        for (d, b) in mem {
            if *d == DeviceId::CPU {
                together += b.total();
            } else if unified(*d) {
                together += b.total();
                if b.total() > Bytes::ZERO {
                    gpu = Some(*d);
                }
            }
        }
        gpu.map(|d| (together, d))
    }

    /// How much the worst device misses its budget by, and the device to blame (zero
    /// when everything fits). DESIGN.md: "A GPU with unified memory (Apple, Strix Halo,
    /// GB10) shares `--ram-gib` with the CPU" — so the host side plus every
    /// unified-memory GPU must also fit in RAM minus the host margin together, on top of
    /// each device's own budget; a unified GPU holding anything is named even when that
    /// fits.
    pub fn shortfall(&self, mem: &[(DeviceId, DeviceBytes)]) -> (Bytes, Option<DeviceId>) {
        let (mut worst, mut device) = match self.shared_ram_bytes(mem) {
            Some((together, d)) => (together - self.budget(DeviceId::CPU), Some(d)),
            None => (Bytes::ZERO, None),
        };
        for (d, b) in mem {
            let miss = b.total() - self.budget(*d);
            if miss > worst {
                worst = miss;
                device = Some(*d);
            }
        }
        (worst, device)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::planner::testing::rig;

    fn bytes(total: u64) -> DeviceBytes {
        DeviceBytes {
            weights: Bytes(total),
            ..Default::default()
        }
    }

    #[test]
    fn budgets_are_capacity_minus_margin() {
        let hw = rig("z440-2x3060");
        let d = Devices::local(&hw);
        let ids: Vec<DeviceId> = d.iter().map(|x| x.id).collect();
        assert_eq!(ids, [DeviceId::CPU, DeviceId::gpu(0), DeviceId::gpu(1)]);
        for x in d.iter() {
            assert_eq!(x.budget, x.capacity - x.margin, "{}", x.name);
        }
        assert_eq!(d.get(DeviceId::gpu(1)).unwrap().margin, memory::GPU_MARGIN);
        assert_eq!(d.budget(DeviceId::gpu(7)), Bytes::ZERO);
        assert_eq!(d.name(DeviceId::gpu(7)), "GPU 7");
        assert!(d.name(DeviceId::gpu(0)).starts_with("GPU 0: "));
    }

    #[test]
    fn shortfall_names_the_device_that_misses_most() {
        let hw = rig("z440-2x3060");
        let d = Devices::local(&hw);
        let g0 = d.budget(DeviceId::gpu(0));
        let g1 = d.budget(DeviceId::gpu(1));
        // (memory per device) -> (shortfall, device)
        let cases = [
            (vec![(DeviceId::gpu(0), bytes(g0.0))], (Bytes::ZERO, None)),
            (
                vec![
                    (DeviceId::gpu(0), bytes(g0.0 + 10)),
                    (DeviceId::gpu(1), bytes(g1.0 + 30)),
                ],
                (Bytes(30), Some(DeviceId::gpu(1))),
            ),
        ];
        for (mem, want) in cases {
            assert_eq!(d.shortfall(&mem), want, "{mem:?}");
        }
    }

    #[test]
    fn what_another_model_holds_comes_off_the_budgets() {
        let mut hw = rig("desktop-3090");
        let plain = Devices::local(&hw);
        let taken = vec![(DeviceId::gpu(0), bytes(300)), (DeviceId::CPU, bytes(100))];
        let left = plain.with_taken(&taken);
        assert_eq!(
            left.budget(DeviceId::gpu(0)),
            plain.budget(DeviceId::gpu(0)) - Bytes(300)
        );
        assert_eq!(
            left.budget(DeviceId::CPU),
            plain.budget(DeviceId::CPU) - Bytes(100)
        );
        // On unified memory the GPU's share comes off the RAM as well.
        hw.gpus[0].unified_memory = true;
        let unified = Devices::local(&hw);
        let left = unified.with_taken(&taken);
        assert_eq!(
            left.budget(DeviceId::CPU),
            unified.budget(DeviceId::CPU) - Bytes(400)
        );
        // A fit check against the reduced table sees the other model.
        let cpu = left.budget(DeviceId::CPU);
        assert_eq!(
            left.shortfall(&[(DeviceId::CPU, bytes(cpu.0 + 1))]).0,
            Bytes(1)
        );
    }

    #[test]
    fn unified_memory_gpus_share_the_host_budget() {
        let mut hw = rig("desktop-3090");
        hw.gpus[0].unified_memory = true;
        let d = Devices::local(&hw);
        let cpu = d.budget(DeviceId::CPU);
        // Each fits its own budget, together they miss the RAM by 100 bytes.
        let mem = vec![
            (DeviceId::CPU, bytes(cpu.0 - 100)),
            (DeviceId::gpu(0), bytes(200)),
        ];
        assert_eq!(
            d.shared_ram_bytes(&mem),
            Some((Bytes(cpu.0 + 100), DeviceId::gpu(0)))
        );
        assert_eq!(d.shortfall(&mem), (Bytes(100), Some(DeviceId::gpu(0))));
    }
}
