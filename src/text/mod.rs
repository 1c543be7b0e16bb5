//! Text helpers every layer uses: safe cuts, and numbers, sizes and durations for people.

pub(crate) mod cut;
pub(crate) mod human;
