//! Reading a home's state without its lock: the read-only commands
//! (`status`, `generations`, `packages`, `plan`) never wait for another
//! hearth run. `state.json` is replaced by rename, so reading it without
//! the lock gives one consistent state; an unfinished journal can only be
//! completed or reverted by the run that holds the lock, so here it is only
//! looked at, to say what the state read means.
//! Never writes anything.

use crate::home::journal::Peeked;
use crate::home::state::{Data, Error, State};

/// Whether an activation is unfinished in the state `st` (read without the
/// lock): `None`, nothing is pending; `Some(true)`, it is committed (its
/// files are applied and recorded as `data`'s current generation, its
/// steps and hooks are still owed or running); `Some(false)`, it is not
/// (`data` is the generation before it, and the home may be changing).
pub fn pending(st: &State, data: &Data) -> Result<Option<bool>, Error> {
    Ok(match st.peek_journal()? {
        Peeked::Nothing => None,
        Peeked::Writing => Some(false),
        Peeked::Pending(j) => Some(data.current.as_ref().is_some_and(|c| c.txid == j.txid)),
    })
}
