//! A fixed-capacity hash table with stable slots and CLOCK eviction.
//!
//! Every inventory table (assets, peers, edges, flows, strings) is one of these. Slots are
//! stable: an entry keeps its slot number until it is removed, so other tables can refer to it
//! by `(slot, generation)` and notice when the slot was reused. The index is open addressing
//! with linear probing at load ≤ 1/2 and backward-shift deletion, so there are no tombstones
//! and lookups stay short. No allocation, no panic, and every loop is bounded by the capacity.
//!
//! Hashing is FNV-1a mixed with a per-table seed: placement (and so probe lengths) depends on
//! the seed, but nothing observable does — slot numbers come from the free list and eviction
//! walks slots, so results are identical on the MCU, in replay and live.

/// A key: small, `Copy`, comparable.
pub trait TableKey: Copy + Eq {
    /// Filler for unused slots; all-zero bytes keep a new table in `.bss`.
    const EMPTY: Self;
    /// Feeds the key's bytes to `h`.
    fn hash(&self, h: &mut Hasher);
}

/// A value: has a constant that fills unused slots.
pub trait TableValue {
    /// The filler; all-zero bytes keep a new table in `.bss`.
    const EMPTY: Self;
}

/// FNV-1a, 32-bit, seeded.
pub struct Hasher(u32);

impl Hasher {
    /// Starts a hash.
    #[inline]
    pub const fn new(seed: u32) -> Self {
        Hasher(0x811c_9dc5 ^ seed)
    }
    /// Adds bytes.
    #[inline]
    pub fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ b as u32).wrapping_mul(0x0100_0193);
        }
    }
    /// Adds bytes four at a time (the tail byte by byte): cheaper for addresses.
    #[inline]
    pub fn write_words(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(4);
        for c in chunks.by_ref() {
            self.write_u32(u32::from_le_bytes([c[0], c[1], c[2], c[3]]));
        }
        self.write(chunks.remainder());
    }
    /// Adds a u16.
    #[inline]
    pub fn write_u16(&mut self, v: u16) {
        self.write(&v.to_le_bytes())
    }
    /// Adds a u32 at once (cheaper than four bytes).
    #[inline]
    pub fn write_u32(&mut self, v: u32) {
        self.0 = (self.0 ^ v).wrapping_mul(0x0100_0193);
    }
    /// The final value, with the high bits folded down so the low bits used by the index
    /// depend on every input byte.
    #[inline]
    pub fn finish(&self) -> u32 {
        let h = self.0;
        h ^ (h >> 15) ^ (h >> 7)
    }
}

/// Index buckets hold `slot + 1`; 0 is an empty bucket (so a new table is all zeros and
/// lands in `.bss` on the MCU instead of a flash copy).
const EMPTY_IX: u16 = 0;

/// The usual CLOCK rule for [`Table::evict`]: spare an entry that still has credit (and
/// spend one), take one that has none.
#[inline]
pub fn second_chance(credit: &mut u8) -> bool {
    if *credit > 0 {
        *credit -= 1;
        true
    } else {
        false
    }
}

/// What [`Table::insert`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Inserted {
    /// The key was already there, at this slot.
    Existing(u16),
    /// A free slot was used.
    New(u16),
}

/// Fixed-capacity map from `K` to `V` with `N` slots and `B` index buckets.
///
/// `B` must be a power of two of at least `2 * N`, and `N < 65535` (checked at compile time).
pub struct Table<K: TableKey, V, const N: usize, const B: usize> {
    keys: [K; N],
    vals: [V; N],
    /// Generation per slot: bumped on every insertion and removal, so it is odd while the
    /// slot is occupied and `(slot, gen)` names one entry (modulo 256: a reference must not
    /// outlive 128 reuses of its slot to stay exact).
    gens: [u8; N],
    index: [u16; B],
    free: heapless::Vec<u16, N>,
    /// Slots never used yet are handed out in order before the free list (so `new` is cheap).
    fresh: u16,
    len: u16,
    hand: u16,
    seed: u32,
    /// Insertions and removals so far: equal counts mean no slot changed owner in between, so
    /// a slot number noted then still names the same entry (64 bits: never wraps in practice).
    changes: u64,
    /// Removals so far (a counter of its own: asked on every frame, see [`Table::removals`]).
    removals: u64,
}

impl<K: TableKey, V: TableValue, const N: usize, const B: usize> Table<K, V, N, B> {
    const CHECK: () = {
        assert!(B.is_power_of_two() && B >= 2 * N, "B must be a power of two >= 2N");
        assert!(N > 0 && N < u16::MAX as usize, "N out of range");
    };

    /// An empty table.
    pub const fn new(seed: u32) -> Self {
        #[allow(clippy::let_unit_value)]
        let () = Self::CHECK;
        Table {
            keys: [K::EMPTY; N],
            vals: [const { V::EMPTY }; N],
            gens: [0; N],
            index: [EMPTY_IX; B],
            free: heapless::Vec::new(),
            fresh: 0,
            len: 0,
            hand: 0,
            seed,
            changes: 0,
            removals: 0,
        }
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.len as usize
    }
    /// Whether the table has no entries.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// Whether every slot is taken.
    pub fn is_full(&self) -> bool {
        self.len as usize == N
    }
    /// Capacity.
    pub const fn capacity(&self) -> usize {
        N
    }

    #[inline]
    fn home(&self, key: &K) -> usize {
        let mut h = Hasher::new(self.seed);
        key.hash(&mut h);
        h.finish() as usize & (B - 1)
    }

    /// Index position holding `key`, or the empty bucket where it would go.
    #[inline]
    fn probe(&self, key: &K) -> (usize, Option<u16>) {
        let mut b = self.home(key);
        // At load <= 1/2 an empty bucket always exists, so this ends well before B steps.
        for _ in 0..B {
            let ix = self.index[b];
            if ix == EMPTY_IX {
                return (b, None);
            }
            let slot = ix - 1;
            if self.keys.get(slot as usize) == Some(key) {
                return (b, Some(slot));
            }
            b = (b + 1) & (B - 1);
        }
        (b, None)
    }

    /// Slot of `key`.
    #[inline]
    pub fn find(&self, key: &K) -> Option<u16> {
        self.probe(key).1
    }

    /// Value of `key`.
    pub fn get(&self, key: &K) -> Option<&V> {
        self.find(key).and_then(|s| self.vals.get(s as usize))
    }

    /// Mutable value of `key`.
    pub fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        let s = self.find(key)?;
        self.vals.get_mut(s as usize)
    }

    /// Key and value at `slot`, if occupied.
    pub fn slot(&self, slot: u16) -> Option<(&K, &V)> {
        if !self.occupied(slot as usize) {
            return None;
        }
        Some((self.keys.get(slot as usize)?, self.vals.get(slot as usize)?))
    }

    #[inline]
    fn occupied(&self, slot: usize) -> bool {
        self.gens.get(slot).is_some_and(|g| g & 1 == 1)
    }

    /// Mutable value at `slot`, if occupied.
    pub fn slot_mut(&mut self, slot: u16) -> Option<&mut V> {
        if !self.occupied(slot as usize) {
            return None;
        }
        self.vals.get_mut(slot as usize)
    }

    /// Key and mutable value at `slot`, if occupied.
    #[inline]
    pub fn entry_mut(&mut self, slot: u16) -> Option<(&K, &mut V)> {
        if !self.occupied(slot as usize) {
            return None;
        }
        Some((self.keys.get(slot as usize)?, self.vals.get_mut(slot as usize)?))
    }

    /// [`Table::entry_mut`] of `(slot, generation)` if that still names a live entry.
    #[inline]
    pub fn live_mut(&mut self, slot: u16, generation: u8) -> Option<(&K, &mut V)> {
        // Generations are odd while occupied, so an equal odd one is the live entry.
        if generation & 1 == 0 || self.gens.get(slot as usize) != Some(&generation) {
            return None;
        }
        Some((self.keys.get(slot as usize)?, self.vals.get_mut(slot as usize)?))
    }

    /// Generation of `slot` (changes whenever the slot's entry is removed).
    pub fn generation(&self, slot: u16) -> u8 {
        self.gens.get(slot as usize).copied().unwrap_or(0)
    }

    /// Insertions and removals so far: while it is unchanged, every slot holds the entry it
    /// held.
    #[inline]
    pub fn changes(&self) -> u64 {
        self.changes
    }

    /// Removals so far (evictions included): while it is unchanged, every slot that held an
    /// entry still holds it (insertions only fill free slots).
    #[inline]
    pub fn removals(&self) -> u64 {
        self.removals
    }

    /// Whether `(slot, generation)` still names a live entry.
    pub fn is_live(&self, slot: u16, generation: u8) -> bool {
        self.slot(slot).is_some() && self.generation(slot) == generation
    }

    /// Inserts `key` with `val` if absent. Returns `None` when the table is full (the caller
    /// evicts and retries, or counts the drop).
    pub fn insert(&mut self, key: K, val: V) -> Option<Inserted> {
        let (b, found) = self.probe(&key);
        if let Some(s) = found {
            return Some(Inserted::Existing(s));
        }
        let slot = if (self.fresh as usize) < N {
            self.fresh += 1;
            self.fresh - 1
        } else {
            self.free.pop()?
        };
        let s = slot as usize % N;
        self.keys[s] = key;
        self.vals[s] = val;
        self.gens[s] = self.gens[s].wrapping_add(1);
        self.index[b] = slot + 1;
        self.len += 1;
        self.changes = self.changes.wrapping_add(1);
        Some(Inserted::New(slot))
    }

    /// Removes the entry at `slot`; returns whether there was one.
    pub fn remove_slot(&mut self, slot: u16) -> bool {
        if !self.occupied(slot as usize) {
            return false;
        }
        let Some(key) = self.keys.get(slot as usize).copied() else { return false };
        let (mut i, found) = self.probe(&key);
        if found != Some(slot) {
            return false;
        }
        // Backward-shift deletion: pull later members of the cluster into the hole when their
        // home position allows it, so lookups never need tombstones.
        self.index[i] = EMPTY_IX;
        let mut j = i;
        for _ in 0..B {
            j = (j + 1) & (B - 1);
            let ix = self.index[j];
            if ix == EMPTY_IX {
                break;
            }
            let k = self.home(&self.keys[(ix - 1) as usize % N]);
            let movable = if i <= j { k <= i || k > j } else { k <= i && k > j };
            if movable {
                self.index[i] = ix;
                self.index[j] = EMPTY_IX;
                i = j;
            }
        }
        let s = slot as usize % N;
        self.keys[s] = K::EMPTY;
        self.vals[s] = V::EMPTY;
        self.gens[s] = self.gens[s].wrapping_add(1);
        self.len -= 1;
        self.changes = self.changes.wrapping_add(1);
        self.removals = self.removals.wrapping_add(1);
        // Cannot overflow: at most N slots are ever free.
        let _ = self.free.push(slot);
        true
    }

    /// CLOCK eviction: walks slots from the hand, asking `spare` for each occupied one; the
    /// first it declines (returns `false`) is removed and its slot returned. `spare` typically
    /// lowers a per-entry credit and spares entries that still had some. After two full
    /// rounds without a victim the entry under the hand goes anyway, so this always ends.
    pub fn evict(&mut self, mut spare: impl FnMut(&K, &mut V) -> bool) -> Option<(K, u16)> {
        if self.len == 0 {
            return None;
        }
        let mut victim = None;
        for _ in 0..2 * N {
            let h = self.hand as usize % N;
            self.hand = ((h + 1) % N) as u16;
            if !self.occupied(h) {
                continue;
            }
            if !spare(&self.keys[h], &mut self.vals[h]) {
                victim = Some(h);
                break;
            }
        }
        let h = match victim {
            Some(h) => h,
            None => (0..N).map(|i| (self.hand as usize + i) % N).find(|&i| self.occupied(i))?,
        };
        let key = self.keys[h];
        self.remove_slot(h as u16);
        Some((key, h as u16))
    }

    /// Occupied slots in slot order.
    pub fn iter(&self) -> impl Iterator<Item = (u16, &K, &V)> {
        let gens = &self.gens;
        self.keys
            .iter()
            .zip(self.vals.iter())
            .enumerate()
            .filter(move |(i, _)| gens[*i] & 1 == 1)
            .map(|(i, (k, v))| (i as u16, k, v))
    }

    /// Mutable iteration over occupied slots.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (u16, &K, &mut V)> {
        let gens = &self.gens;
        self.keys
            .iter()
            .zip(self.vals.iter_mut())
            .enumerate()
            .filter(move |(i, _)| gens[*i] & 1 == 1)
            .map(|(i, (k, v))| (i as u16, k, v))
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::boxed::Box;
    use std::collections::HashMap;

    impl TableValue for u32 {
        const EMPTY: Self = 0;
    }
    impl TableKey for u32 {
        const EMPTY: Self = 0;
        fn hash(&self, h: &mut Hasher) {
            h.write_u32(*self);
        }
    }

    type T = Table<u32, u32, 64, 128>;

    #[test]
    fn insert_find_remove_against_model() {
        // A deterministic pseudo-random mix of operations checked against std's HashMap.
        let mut t: Box<T> = Box::new(T::new(7));
        let mut model: HashMap<u32, (u16, u32)> = HashMap::new();
        let mut x: u32 = 1;
        for step in 0..20_000u32 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let key = x % 150;
            if x.is_multiple_of(3) {
                if let Some((slot, _)) = model.remove(&key) {
                    assert!(t.remove_slot(slot));
                } else {
                    assert!(t.find(&key).is_none());
                }
            } else {
                match t.insert(key, step) {
                    Some(Inserted::New(s)) => {
                        assert!(model.insert(key, (s, step)).is_none());
                    }
                    Some(Inserted::Existing(s)) => assert_eq!(model[&key].0, s),
                    None => assert_eq!(model.len(), 64),
                }
            }
            assert_eq!(t.len(), model.len());
        }
        for (k, (s, v)) in &model {
            assert_eq!(t.find(k), Some(*s));
            assert_eq!(t.get(k), Some(v));
        }
    }

    #[test]
    fn generation_changes_on_reuse() {
        let mut t: Box<T> = Box::new(T::new(0));
        let Some(Inserted::New(s)) = t.insert(5, 1) else { panic!() };
        let g = t.generation(s);
        assert!(t.is_live(s, g));
        t.remove_slot(s);
        assert!(!t.is_live(s, g));
        // Fill every slot: the freed one is reused, under a new generation.
        for k in 100..164 {
            t.insert(k, 1).unwrap();
        }
        assert!(t.slot(s).is_some());
        assert!(!t.is_live(s, g));
    }

    /// `changes` moves with every insertion and removal (evictions included) and with
    /// nothing else.
    #[test]
    fn changes_count_insertions_and_removals() {
        let mut t: Box<T> = Box::new(T::new(0));
        let c0 = t.changes();
        let Some(Inserted::New(s)) = t.insert(5, 1) else { panic!() };
        assert_eq!(t.changes(), c0 + 1);
        assert_eq!(t.insert(5, 2), Some(Inserted::Existing(s)));
        let _ = t.find(&5);
        let _ = t.slot_mut(s);
        assert_eq!(t.changes(), c0 + 1, "lookups and updates are not changes");
        assert!(t.remove_slot(s));
        assert!(!t.remove_slot(s));
        assert_eq!(t.changes(), c0 + 2);
        for k in 0..64 {
            t.insert(k, 0).unwrap();
        }
        let c = t.changes();
        assert!(t.insert(1000, 0).is_none(), "full");
        assert_eq!(t.changes(), c);
        assert!(t.evict(|_, _| false).is_some());
        assert_eq!(t.changes(), c + 1);
    }

    /// `removals` counts removals and evictions, never insertions.
    #[test]
    fn removals_count_removals_only() {
        let mut t: Box<T> = Box::new(T::new(0));
        assert_eq!(t.removals(), 0);
        let Some(Inserted::New(s)) = t.insert(5, 1) else { panic!() };
        t.insert(6, 1).unwrap();
        assert_eq!(t.removals(), 0);
        assert!(t.remove_slot(s));
        assert_eq!(t.removals(), 1);
        assert!(!t.remove_slot(s));
        assert_eq!(t.removals(), 1);
        for k in 100..163 {
            t.insert(k, 0).unwrap();
        }
        assert!(t.is_full());
        assert_eq!(t.removals(), 1);
        assert!(t.evict(|_, _| false).is_some());
        assert_eq!(t.removals(), 2);
        t.insert(1000, 0).unwrap();
        assert_eq!(t.removals(), 2);
    }

    #[test]
    fn clock_spares_entries_with_credit() {
        let mut t: Box<T> = Box::new(T::new(0));
        for k in 0..64 {
            // Odd keys carry credit 1, even keys none.
            t.insert(k, k % 2).unwrap();
        }
        assert!(t.is_full());
        assert_eq!(t.insert(100, 0), None);
        let (victim, _) = t
            .evict(|_, credit| {
                if *credit > 0 {
                    *credit -= 1;
                    true
                } else {
                    false
                }
            })
            .unwrap();
        assert_eq!(victim % 2, 0);
        assert!(t.insert(100, 0).is_some());
    }

    #[test]
    fn evict_always_terminates_even_if_everything_is_spared() {
        let mut t: Box<T> = Box::new(T::new(0));
        for k in 0..64 {
            t.insert(k, 0).unwrap();
        }
        assert!(t.evict(|_, _| true).is_some());
        assert_eq!(t.len(), 63);
    }
}
