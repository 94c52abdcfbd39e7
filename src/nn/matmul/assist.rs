//! A second core for the large layers of a forecast made on the calling thread.
//!
//! A single-window forecast of NBEATS or NHITS reads 9.8 MB of weights, one layer after another: about 100 µs at
//! the L3 bandwidth of one core, and each layer is a few µs, too short to hand to a pool thread (one that sleeps
//! takes longer to wake than the whole forecast). Here the calling thread does the work itself, in chunks of
//! output columns, and one process-wide assistant thread takes chunks too while it is awake. The assistant spins
//! for [`SPIN`] after its last chunk, then parks. A call soon after another (within [`WAKE_WINDOW`]) that finds it
//! parked wakes it and goes on alone until it joins; a lone call leaves it parked. So back-to-back calls share the
//! layers between two cores, and an occasional call costs what it costs alone.
//!
//! Which thread computes a chunk never changes its bits: every output is computed by the same kernel, in the same
//! order, alone or split.

use std::cell::Cell;
use std::ops::Range;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::OnceLock;
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

/// How long the assistant waits for the next chunk before it parks: longer than the gap between the layers of a
/// forecast and between back-to-back calls from JS, short enough that an idle process does not keep a core busy.
const SPIN: Duration = Duration::from_micros(200);

/// A shared forecast that starts within this long of the end of the last one may wake the parked assistant: calls
/// are coming back to back, and the next ones will find it awake. A lone call (a bar every second) leaves it parked
/// and runs alone: on this machine kind a freshly woken assistant joined so slowly that the call took longer than
/// alone.
const WAKE_WINDOW: Duration = Duration::from_millis(1);

/// How a thread's large layers run.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Sharing {
    Alone,
    /// With the assistant if it is awake.
    WithAwake,
    /// With the assistant, waking it if it is parked.
    Waking,
}

thread_local! {
    static SHARING: Cell<Sharing> = const { Cell::new(Sharing::Alone) };
}

/// When the last shared scope ended, in nanoseconds after [`epoch`] (0: never).
static LAST_END: AtomicU64 = AtomicU64::new(0);

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn nanos_since_epoch() -> u64 {
    (epoch().elapsed().as_nanos() as u64).max(1)
}

/// Lets (or stops) this thread share its large layers with the assistant until the scope is dropped.
pub fn scoped(enabled: bool) -> AssistScope {
    let sharing = sharing_for(enabled, LAST_END.load(SeqCst), nanos_since_epoch());
    AssistScope { previous: SHARING.replace(sharing), enabled }
}

/// A scope's sharing, `now` nanoseconds after [`epoch`], the last shared scope having ended at `last_end` (0: never).
fn sharing_for(enabled: bool, last_end: u64, now: u64) -> Sharing {
    let recent = last_end != 0 && now.saturating_sub(last_end) < WAKE_WINDOW.as_nanos() as u64;
    match (enabled, recent) {
        (false, _) => Sharing::Alone,
        (true, true) => Sharing::Waking,
        (true, false) => Sharing::WithAwake,
    }
}

/// Restores the thread's previous setting on drop.
pub struct AssistScope {
    previous: Sharing,
    enabled: bool,
}

impl Drop for AssistScope {
    fn drop(&mut self) {
        SHARING.set(self.previous);
        if self.enabled {
            LAST_END.store(nanos_since_epoch(), SeqCst);
        }
    }
}

/// Whether this thread shares its large layers.
pub fn enabled() -> bool {
    SHARING.get() != Sharing::Alone
}

/// One call's work: `work` over chunks of `chunk` items of `0..len`.
struct Job<'a> {
    work: &'a (dyn Fn(Range<usize>) + Sync),
    len: usize,
    chunk: usize,
    done: AtomicUsize,
    panicked: AtomicBool,
}

impl Job<'_> {
    fn run(&self, index: usize) {
        let start = index * self.chunk;
        if catch_unwind(AssertUnwindSafe(|| (self.work)(start..(start + self.chunk).min(self.len)))).is_err() {
            self.panicked.store(true, SeqCst);
        }
        self.done.fetch_add(1, SeqCst);
    }
}

/// The claim word: generation (24 bits), chunk count (20 bits) and next unclaimed chunk (20 bits), so that one
/// compare-and-swap claims a chunk of a job that is still running.
#[derive(Clone, Copy, PartialEq)]
struct Claim(u64);

const FIELD: u64 = (1 << 20) - 1;
/// The most chunks one job may have.
const MAX_CHUNKS: usize = FIELD as usize;

impl Claim {
    fn new(generation: u64, chunks: usize) -> Claim {
        Claim((generation & ((1 << 24) - 1)) << 40 | (chunks as u64) << 20)
    }

    fn generation(self) -> u64 {
        self.0 >> 40
    }

    fn chunks(self) -> usize {
        (self.0 >> 20 & FIELD) as usize
    }

    fn next(self) -> usize {
        (self.0 & FIELD) as usize
    }

    fn has_work(self) -> bool {
        self.next() < self.chunks()
    }
}

/// The process-wide assistant.
struct Assistant {
    /// A caller owns the assistant.
    busy: AtomicBool,
    claim: AtomicU64,
    /// The running job (on its caller's stack), valid while the claim word has unclaimed chunks or a claimed chunk
    /// is unfinished.
    job: AtomicPtr<Job<'static>>,
    parked: AtomicBool,
    thread: OnceLock<Thread>,
}

impl Assistant {
    /// Claims the next chunk of the job of `claim`'s generation.
    fn try_claim(&self, claim: Claim) -> Option<usize> {
        let mut current = claim;
        while current.has_work() && current.generation() == claim.generation() {
            match self.claim.compare_exchange(current.0, current.0 + 1, SeqCst, SeqCst) {
                Ok(_) => return Some(current.next()),
                Err(now) => current = Claim(now),
            }
        }
        None
    }

    /// Runs one chunk of whatever job is running; false if there is none.
    fn help_once(&self) -> bool {
        let claim = Claim(self.claim.load(SeqCst));
        if !claim.has_work() {
            return false;
        }
        let Some(index) = self.try_claim(claim) else { return false };
        // The chunk just claimed belongs to the job running now: its caller stored it before the claim word and
        // cannot store another until this chunk is done. (Read before the claim, the pointer could be a finished
        // job's, were the generation to wrap while this thread waited.)
        let job = self.job.load(SeqCst);
        // SAFETY: as above; the caller returns only after this chunk is counted done.
        unsafe { &*job }.run(index);
        true
    }

    fn serve(&self) {
        let mut idle_since = Instant::now();
        let mut spins = 0u32;
        loop {
            if self.help_once() {
                (idle_since, spins) = (Instant::now(), 0);
            } else if spins % 64 != 63 || idle_since.elapsed() < SPIN {
                // The clock is read once in 64 turns: reading it takes longer than a turn.
                spins = spins.wrapping_add(1);
                std::hint::spin_loop();
            } else {
                self.parked.store(true, SeqCst);
                // A job published before `parked` was set is seen here; one published after sees `parked` and
                // unparks (park returns at once if the unpark came first).
                if !Claim(self.claim.load(SeqCst)).has_work() {
                    thread::park();
                }
                self.parked.store(false, SeqCst);
                idle_since = Instant::now();
            }
        }
    }
}

/// The assistant, started on first use; `None` if its thread could not start.
fn assistant() -> Option<&'static Assistant> {
    static ASSISTANT: OnceLock<Option<&'static Assistant>> = OnceLock::new();
    *ASSISTANT.get_or_init(|| {
        let assistant: &'static Assistant = Box::leak(Box::new(Assistant {
            busy: AtomicBool::new(false),
            claim: AtomicU64::new(0),
            job: AtomicPtr::new(std::ptr::null_mut()),
            parked: AtomicBool::new(false),
            thread: OnceLock::new(),
        }));
        let handle = thread::Builder::new().name("neuro-divergent-assist".into()).spawn(move || assistant.serve()).ok()?;
        assistant.thread.set(handle.thread().clone()).ok()?;
        Some(assistant)
    })
}

/// Runs `work` over `0..len`: in chunks of `chunk` items (the last may be shorter) that this thread and the
/// assistant share, when [`enabled`] and the assistant is free; else in one call on this thread. Returns when every
/// chunk is done; a panic in any chunk is raised here.
pub fn for_chunks(len: usize, chunk: usize, work: &(dyn Fn(Range<usize>) + Sync)) {
    let chunk = chunk.max(1);
    let chunks = len.div_ceil(chunk);
    let alone = || work(0..len);
    if !(2..=MAX_CHUNKS).contains(&chunks) || !enabled() {
        return alone();
    }
    let Some(assistant) = assistant().filter(|a| !a.busy.swap(true, SeqCst)) else { return alone() };
    let job = Job { work, len, chunk, done: AtomicUsize::new(0), panicked: AtomicBool::new(false) };
    // SAFETY (of the lifetime): the assistant reaches the job only through a claim on it, and this call returns
    // only after every chunk is claimed and done.
    assistant.job.store(&job as *const Job<'_> as *mut Job<'static>, SeqCst);
    let claim = Claim::new(Claim(assistant.claim.load(SeqCst)).generation() + 1, chunks);
    assistant.claim.store(claim.0, SeqCst);
    if SHARING.get() == Sharing::Waking && assistant.parked.load(SeqCst) {
        if let Some(thread) = assistant.thread.get() {
            thread.unpark();
        }
    }
    while let Some(index) = assistant.try_claim(claim) {
        job.run(index);
    }
    while job.done.load(SeqCst) < chunks {
        std::hint::spin_loop();
    }
    assistant.job.store(std::ptr::null_mut(), SeqCst);
    assistant.busy.store(false, SeqCst);
    if job.panicked.load(SeqCst) {
        resume_unwind(Box::new("a chunk of a shared layer panicked"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// Every index of `0..len` visited exactly once, by chunks that tile it in order of their starts.
    fn visits(len: usize, chunk: usize) -> Vec<usize> {
        let seen = Mutex::new(vec![0usize; len]);
        for_chunks(len, chunk, &|range| range.for_each(|i| seen.lock().unwrap()[i] += 1));
        seen.into_inner().unwrap()
    }

    #[test]
    fn every_item_is_visited_once_alone_or_shared() {
        for enabled in [false, true] {
            let _scope = scoped(enabled);
            for (len, chunk) in [(0, 4), (1, 4), (5, 1), (64, 16), (65, 16), (1000, 7)] {
                assert!(visits(len, chunk).iter().all(|&v| v == 1), "len {len}, chunk {chunk}, shared {enabled}");
            }
        }
    }

    #[test]
    fn the_assistant_takes_chunks_while_awake_and_after_parking() {
        let _scope = scoped(true);
        let on_assistant = |len: usize| {
            let count = AtomicUsize::new(0);
            let caller = thread::current().id();
            for_chunks(len, 1, &|_| {
                if thread::current().id() != caller {
                    count.fetch_add(1, SeqCst);
                }
                std::thread::sleep(Duration::from_micros(50));
            });
            count.load(SeqCst)
        };
        // 200 chunks of 50 µs: the assistant wakes long before the caller is through (tries again while other
        // tests hold the assistant). A scope right after another may wake it from park.
        assert!((0..100).any(|_| {
            std::thread::sleep(SPIN * 20);
            drop(scoped(true));
            let _soon_after = scoped(true);
            on_assistant(200) > 0
        }), "woken from park");
    }

    #[test]
    fn only_a_call_soon_after_another_may_wake_the_assistant() {
        let window = WAKE_WINDOW.as_nanos() as u64;
        assert_eq!(sharing_for(true, 0, 5), Sharing::WithAwake);
        assert_eq!(sharing_for(true, 100, 100 + window - 1), Sharing::Waking);
        assert_eq!(sharing_for(true, 100, 100 + window), Sharing::WithAwake);
        assert_eq!(sharing_for(false, 100, 101), Sharing::Alone);
        let _scope = scoped(true);
        assert!(enabled());
    }

    #[test]
    fn concurrent_callers_each_finish_their_own_work() {
        let _scope = scoped(true);
        thread::scope(|s| {
            for t in 0..4 {
                s.spawn(move || {
                    let _scope = scoped(true);
                    for round in 0..200 {
                        let len = 50 + (t * 7 + round) % 40;
                        assert!(visits(len, 3).iter().all(|&v| v == 1), "thread {t} round {round}");
                    }
                });
            }
        });
    }

    #[test]
    fn a_panic_in_a_chunk_reaches_the_caller_and_frees_the_assistant() {
        let _scope = scoped(true);
        let result = catch_unwind(|| for_chunks(64, 1, &|range| assert!(!range.contains(&40), "item 40")));
        assert!(result.is_err());
        assert!(visits(100, 3).iter().all(|&v| v == 1));
    }
}
