//! The panic guard run around every exported function body: it turns a
//! [`Fail`] into a code plus last-error message and a caught panic into
//! `RAFT_ERR_PANIC`, after which the handle refuses further calls.

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::last_error::{set_thread_error, HandleState};
use crate::result::{raft_result, Fail, FfiResult};

/// A type whose values are handed to C as opaque pointers.
pub trait Handle {
    /// The C name of the handle type, for messages.
    const NAME: &'static str;
    /// The handle's error and poison state.
    fn state(&self) -> &HandleState;
}

fn panic_message(p: &(dyn Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic payload".to_owned()
    }
}

/// Runs `f` for a call that involves no handle.
pub fn guard(what: &str, f: impl FnOnce() -> FfiResult<()>) -> raft_result {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => raft_result::RAFT_OK,
        Ok(Err(e)) => {
            set_thread_error(&e.msg);
            e.code
        }
        Err(p) => {
            set_thread_error(&format!(
                "{what}: internal panic: {}",
                panic_message(p.as_ref())
            ));
            raft_result::RAFT_ERR_PANIC
        }
    }
}

/// Runs `f` on the handle behind `h`: NULL gives `RAFT_ERR_NULL`, a poisoned
/// handle `RAFT_ERR_POISONED`, a panic in `f` poisons the handle.
pub fn with_handle<H: Handle>(
    what: &str,
    h: *const H,
    f: impl FnOnce(&H) -> FfiResult<()>,
) -> raft_result {
    if h.is_null() {
        set_thread_error(&format!("{what}: the {} handle is NULL", H::NAME));
        return raft_result::RAFT_ERR_NULL;
    }
    // SAFETY: a non-NULL handle pointer was returned by this library's
    // constructor and, by the documented contract, has not been freed; only
    // shared references are ever formed to it (mutation goes through
    // interior mutability), so aliasing with a call in progress is sound.
    let hr = unsafe { &*h };
    let st = hr.state();
    if st.is_poisoned() {
        st.set_error(&format!(
            "{what}: the {} handle is unusable after an earlier panic",
            H::NAME
        ));
        return raft_result::RAFT_ERR_POISONED;
    }
    match catch_unwind(AssertUnwindSafe(|| f(hr))) {
        Ok(Ok(())) => raft_result::RAFT_OK,
        Ok(Err(e)) => {
            st.set_error(&format!("{what}: {}", e.msg));
            e.code
        }
        Err(p) => {
            st.poison();
            st.set_error(&format!(
                "{what}: internal panic: {}; the {} handle is now unusable",
                panic_message(p.as_ref()),
                H::NAME
            ));
            raft_result::RAFT_ERR_PANIC
        }
    }
}

/// Releases the handle `*pp` (if any) and sets `*pp` to NULL. A panic in a
/// destructor is caught and the memory leaked.
///
/// # Safety
/// `pp` is NULL or points to a pointer that is NULL or was returned by this
/// library as a `Box<H>` and not yet freed.
pub unsafe fn free_handle<H: Handle>(pp: *mut *mut H, busy: impl Fn(&H) -> bool) {
    if pp.is_null() {
        return;
    }
    // SAFETY: `pp` is non-NULL and points to a handle pointer (contract).
    let p = unsafe { *pp };
    if p.is_null() {
        return;
    }
    // SAFETY: `p` is a live handle (contract); a shared reference is enough
    // to check whether a call on it is in progress.
    if busy(unsafe { &*p }) {
        set_thread_error(&format!(
            "{}_free: the handle is in use by a call in progress; not freed",
            H::NAME
        ));
        return;
    }
    // SAFETY: `pp` is valid for writes (contract).
    unsafe { *pp = std::ptr::null_mut() };
    // SAFETY: `p` came from `Box::into_raw` and is freed exactly once: the
    // caller's pointer was just cleared.
    let b = unsafe { Box::from_raw(p) };
    if catch_unwind(AssertUnwindSafe(move || drop(b))).is_err() {
        set_thread_error(&format!("{}_free: panic while releasing", H::NAME));
    }
}

/// Stores `v` through the out-pointer `out`, which must be valid when
/// non-NULL; NULL gives `RAFT_ERR_NULL`.
pub fn out_ptr<'a, T>(out: *mut T, arg: &str) -> FfiResult<&'a mut T> {
    // SAFETY: the caller of the exported function promises that a non-NULL
    // out-parameter points to writable, properly aligned storage for T.
    unsafe { out.as_mut() }.ok_or_else(|| Fail::null(arg))
}

/// A reference to the input struct behind `p`; NULL gives `RAFT_ERR_NULL`.
pub fn in_ref<'a, T>(p: *const T, arg: &str) -> FfiResult<&'a T> {
    // SAFETY: the caller promises that a non-NULL input pointer points to a
    // valid, initialized T for the duration of the call.
    unsafe { p.as_ref() }.ok_or_else(|| Fail::null(arg))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Thing {
        st: HandleState,
    }
    impl Handle for Thing {
        const NAME: &'static str = "thing";
        fn state(&self) -> &HandleState {
            &self.st
        }
    }

    #[test]
    fn panic_poisons_the_handle() {
        let t = Thing::default();
        assert_eq!(with_handle("ok", &t, |_| Ok(())), raft_result::RAFT_OK);
        assert_eq!(
            with_handle("boom", &t, |_| panic!("kaboom")),
            raft_result::RAFT_ERR_PANIC
        );
        assert_eq!(
            with_handle("after", &t, |_| Ok(())),
            raft_result::RAFT_ERR_POISONED
        );
        assert_eq!(
            with_handle::<Thing>("null", std::ptr::null(), |_| Ok(())),
            raft_result::RAFT_ERR_NULL
        );
        assert_eq!(guard("g", || panic!("x")), raft_result::RAFT_ERR_PANIC);
        assert_eq!(
            guard("g", || Err(Fail::invalid("nope"))),
            raft_result::RAFT_ERR_INVALID_ARGUMENT
        );
    }

    #[test]
    fn free_clears_the_pointer_and_accepts_null() {
        let mut p = Box::into_raw(Box::new(Thing::default()));
        // SAFETY: `p` came from Box::into_raw.
        unsafe { free_handle(&mut p, |_| false) };
        assert!(p.is_null());
        // SAFETY: freeing NULL is a no-op.
        unsafe { free_handle(&mut p, |_| false) };
        // SAFETY: a NULL pointer-to-pointer is accepted.
        unsafe { free_handle::<Thing>(std::ptr::null_mut(), |_| false) };
    }
}
