//! The scoreboard: a table in shared memory with one slot per worker process, as Apache keeps.
//!
//! The parent maps it (anonymous, `MAP_SHARED`) *before* it forks, so every worker sees the same
//! physical pages. Who writes what:
//!
//! - the parent, around a worker's life: before forking it claims a slot (pid, generation,
//!   `starting`); after reaping it marks the slot `dead`;
//! - the worker, only its own slot: `ready` when it can accept, `busy` connections, counts of
//!   connections and requests served, `exiting` when it leaves.
//!
//! Every field is an atomic, so no lock is needed and a worker that dies mid-update (abort,
//! `kill -9`) cannot leave a lock held. The parent reads the table on each maintenance tick to
//! count idle workers; any worker reads it to answer `GET /_status`.
//!
//! With `--park on`, connections waiting for a request head are held by a front, not a worker:
//! the parent's (process_pool, `parked` in the header) or each worker's (hybrid_pool, `parked` in
//! its slot); `/_status` shows both, and the total.
//!
//! A worker has `capacity` serving threads (1 in process_pool, `--threads-per-worker` in hybrid_pool) and
//! `busy` of them serving a connection; it is *idle* while `busy < capacity`.

use crate::sys::SharedMem;
use std::fmt::Write as _;
use std::io;
use std::sync::atomic::{AtomicI32, AtomicU32, AtomicU64, AtomicU8, Ordering::Relaxed};

/// A slot's life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Never used.
    Empty,
    /// Forked, not yet accepting.
    Starting,
    /// Accepting, with at least one free serving thread.
    Idle,
    /// Every serving thread has a connection.
    Busy,
    /// Asked to leave (or done with its connections): finishing what it has, accepting nothing.
    Exiting,
    /// Reaped by the parent; the slot is free for a new worker.
    Dead,
}

impl State {
    pub fn name(self) -> &'static str {
        match self {
            State::Empty => "empty",
            State::Starting => "starting",
            State::Idle => "idle",
            State::Busy => "busy",
            State::Exiting => "exiting",
            State::Dead => "dead",
        }
    }
}

// The lifecycle stored in a slot; idle and busy are derived from `busy` and `capacity`.
const EMPTY: u8 = 0;
const STARTING: u8 = 1;
const READY: u8 = 2;
const EXITING: u8 = 3;
const DEAD: u8 = 4;

/// One worker's row.
#[repr(C)]
#[derive(Debug, Default)]
pub struct Slot {
    pid: AtomicI32,
    generation: AtomicU32,
    life: AtomicU8,
    capacity: AtomicU32,
    busy: AtomicU32,
    connections: AtomicU64,
    requests: AtomicU64,
    /// Connections this worker's own front holds (hybrid_pool with `--park on`).
    parked: AtomicU64,
}

/// The parent's counters, in the same shared memory so that `/_status` can show them.
#[repr(C)]
#[derive(Debug, Default)]
pub struct Header {
    generation: AtomicU32,
    spawned: AtomicU64,
    retired: AtomicU64,
    replaced: AtomicU64,
    /// Connections the parent's front holds (process_pool with `--park on`).
    parked: AtomicU64,
}

/// A snapshot of one slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlotView {
    pub slot: usize,
    pub pid: i32,
    pub generation: u32,
    pub state: State,
    pub capacity: u32,
    pub busy: u32,
    pub connections: u64,
    pub requests: u64,
    pub parked: u64,
}

impl Slot {
    /// The state, with idle and busy derived from the thread counts.
    pub fn state(&self) -> State {
        match self.life.load(Relaxed) {
            EMPTY => State::Empty,
            STARTING => State::Starting,
            READY if self.busy.load(Relaxed) >= self.capacity.load(Relaxed) => State::Busy,
            READY => State::Idle,
            EXITING => State::Exiting,
            _ => State::Dead,
        }
    }

    pub fn pid(&self) -> i32 {
        self.pid.load(Relaxed)
    }

    pub fn generation(&self) -> u32 {
        self.generation.load(Relaxed)
    }

    /// Connections accepted by this slot's current worker.
    pub fn connections(&self) -> u64 {
        self.connections.load(Relaxed)
    }

    // --- written by the parent ---

    /// Before forking: a new worker of `generation` with `capacity` serving threads.
    pub fn claim(&self, generation: u32, capacity: u32) {
        self.pid.store(0, Relaxed);
        self.generation.store(generation, Relaxed);
        self.capacity.store(capacity.max(1), Relaxed);
        self.busy.store(0, Relaxed);
        self.connections.store(0, Relaxed);
        self.requests.store(0, Relaxed);
        self.parked.store(0, Relaxed);
        self.life.store(STARTING, Relaxed);
    }

    /// After forking (the worker stores the same value itself, whichever runs first).
    pub fn set_pid(&self, pid: i32) {
        self.pid.store(pid, Relaxed);
    }

    /// After reaping.
    pub fn mark_dead(&self) {
        self.busy.store(0, Relaxed);
        self.parked.store(0, Relaxed);
        self.life.store(DEAD, Relaxed);
    }

    // --- written by the worker, in its own slot ---

    /// The worker is accepting.
    pub fn ready(&self) {
        self.pid.store(crate::sys::pid(), Relaxed);
        self.life.store(READY, Relaxed);
    }

    /// A serving thread took a connection.
    pub fn begin_connection(&self) {
        self.connections.fetch_add(1, Relaxed);
        self.busy.fetch_add(1, Relaxed);
    }

    /// A serving thread finished a connection that carried `requests` requests.
    pub fn end_connection(&self, requests: u64) {
        self.requests.fetch_add(requests, Relaxed);
        self.busy.fetch_sub(1, Relaxed);
    }

    /// How many connections the worker's front holds, waiting for a request head.
    pub fn set_parked(&self, parked: usize) {
        self.parked.store(parked as u64, Relaxed);
    }

    /// The worker accepts nothing more and will exit after its connections.
    pub fn exiting(&self) {
        self.life.store(EXITING, Relaxed);
    }
}

/// The table: a header and `len` slots, shared by the parent and every worker.
pub struct Scoreboard {
    header: SharedMem<Header>,
    slots: SharedMem<Slot>,
}

impl Scoreboard {
    /// Maps a zeroed scoreboard of `len` slots. Call before forking.
    pub fn new(len: usize) -> io::Result<Scoreboard> {
        Ok(Scoreboard {
            header: SharedMem::new(1)?,
            slots: SharedMem::new(len)?,
        })
    }

    pub fn slots(&self) -> &[Slot] {
        self.slots.as_slice()
    }

    pub fn slot(&self, i: usize) -> &Slot {
        &self.slots()[i]
    }

    fn header(&self) -> &Header {
        &self.header.as_slice()[0]
    }

    /// The generation new workers belong to (bumped by a graceful reload).
    pub fn generation(&self) -> u32 {
        self.header().generation.load(Relaxed)
    }

    pub fn set_generation(&self, generation: u32) {
        self.header().generation.store(generation, Relaxed);
    }

    /// Parent's counters: workers forked, retired (asked to leave), replaced (died or recycled).
    pub fn count_spawned(&self) {
        self.header().spawned.fetch_add(1, Relaxed);
    }

    pub fn count_retired(&self) {
        self.header().retired.fetch_add(1, Relaxed);
    }

    pub fn count_replaced(&self) {
        self.header().replaced.fetch_add(1, Relaxed);
    }

    /// How many connections the parent's front holds, waiting for a request head.
    pub fn set_parked(&self, parked: usize) {
        self.header().parked.store(parked as u64, Relaxed);
    }

    /// Connections parked in every front (the parent's and the workers').
    pub fn parked(&self) -> u64 {
        self.header().parked.load(Relaxed) + self.view().iter().map(|w| w.parked).sum::<u64>()
    }

    /// Every slot that was ever used.
    pub fn view(&self) -> Vec<SlotView> {
        self.slots()
            .iter()
            .enumerate()
            .map(|(i, s)| SlotView {
                slot: i,
                pid: s.pid(),
                generation: s.generation(),
                state: s.state(),
                capacity: s.capacity.load(Relaxed),
                busy: s.busy.load(Relaxed),
                connections: s.connections.load(Relaxed),
                requests: s.requests.load(Relaxed),
                parked: s.parked.load(Relaxed),
            })
            .filter(|v| v.state != State::Empty)
            .collect()
    }

    /// The scoreboard as JSON for `/_status`: `{"generation":..,"workers":[..],"totals":{..}}`.
    pub fn to_json(&self) -> String {
        let view = self.view();
        let mut out = format!("{{\"generation\":{},\"workers\":[", self.generation());
        for (i, w) in view.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let _ = write!(
                out,
                "{{\"slot\":{},\"pid\":{},\"generation\":{},\"state\":\"{}\",\"threads\":{},\
                 \"busy\":{},\"connections\":{},\"requests\":{},\"parked\":{}}}",
                w.slot,
                w.pid,
                w.generation,
                w.state.name(),
                w.capacity,
                w.busy,
                w.connections,
                w.requests,
                w.parked
            );
        }
        let count = |s: State| view.iter().filter(|w| w.state == s).count();
        let h = self.header();
        let _ = write!(
            out,
            "],\"totals\":{{\"workers\":{},\"starting\":{},\"idle\":{},\"busy\":{},\"exiting\":{},\
             \"dead\":{},\"connections\":{},\"requests\":{},\"spawned\":{},\"retired\":{},\
             \"replaced\":{},\"parked\":{}}}}}",
            view.iter().filter(|w| w.state != State::Dead).count(),
            count(State::Starting),
            count(State::Idle),
            count(State::Busy),
            count(State::Exiting),
            count(State::Dead),
            view.iter().map(|w| w.connections).sum::<u64>(),
            view.iter().map(|w| w.requests).sum::<u64>(),
            h.spawned.load(Relaxed),
            h.retired.load(Relaxed),
            h.replaced.load(Relaxed),
            h.parked.load(Relaxed) + view.iter().map(|w| w.parked).sum::<u64>(),
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slot_goes_through_its_life() {
        let board = Scoreboard::new(4).unwrap();
        assert!(board.view().is_empty(), "a new board is empty");
        let s = board.slot(2);
        s.claim(1, 2);
        assert_eq!(s.state(), State::Starting);
        s.ready();
        assert_eq!(s.state(), State::Idle);
        s.begin_connection();
        assert_eq!(s.state(), State::Idle, "one of two threads is still free");
        s.begin_connection();
        assert_eq!(s.state(), State::Busy);
        s.end_connection(3);
        s.end_connection(1);
        assert_eq!(s.state(), State::Idle);
        s.exiting();
        assert_eq!(s.state(), State::Exiting);
        s.mark_dead();
        let v = board.view();
        assert_eq!(v.len(), 1);
        assert_eq!((v[0].slot, v[0].state), (2, State::Dead));
        assert_eq!((v[0].connections, v[0].requests), (2, 4));
        let json = board.to_json();
        assert!(json.contains("\"state\":\"dead\""), "{json}");
        assert!(json.contains("\"workers\":0,"), "{json}");
    }
}
