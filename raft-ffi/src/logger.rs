//! Logging through a caller-supplied callback ([`raft_log_fn`]).

use std::ffi::{c_char, c_void};
use std::fmt::{self, Write as _};

use raft_core::{Level, Logger};

/// Receives one log line: `msg` is NUL-terminated, `len` bytes long without
/// the terminator, and valid only during the call. `level` is a
/// `raft_log_level`. Called on the thread that called into the node; it must
/// not call functions of the node, throw, or longjmp.
/// May be NULL where the documentation says so.
pub type raft_log_fn =
    Option<unsafe extern "C" fn(userdata: *mut c_void, level: i32, msg: *const c_char, len: usize)>;

/// The non-NULL form of [`raft_log_fn`].
pub type LogFn = unsafe extern "C" fn(*mut c_void, i32, *const c_char, usize);

/// A [`Logger`] that forwards enabled lines to a C callback.
pub struct CallbackLogger {
    f: LogFn,
    userdata: *mut c_void,
    level: Level,
}

// SAFETY: the logger holds a C function pointer and an opaque pointer. The
// header documents that the callback runs on whatever thread calls into the
// node and that the caller must make `userdata` usable from there; the
// library never calls the logger from a thread of its own.
unsafe impl Send for CallbackLogger {}
// SAFETY: see `Send`; the logger has no Rust-side mutable state.
unsafe impl Sync for CallbackLogger {}

impl CallbackLogger {
    /// A logger calling `f(userdata, ...)` for lines at `level` and above.
    pub fn new(f: LogFn, userdata: *mut c_void, level: Level) -> Self {
        CallbackLogger { f, userdata, level }
    }
}

impl Logger for CallbackLogger {
    fn enabled(&self, level: Level) -> bool {
        level != Level::Off && level >= self.level
    }
    fn log(&self, level: Level, msg: fmt::Arguments<'_>) {
        let mut line = String::with_capacity(128);
        if line.write_fmt(msg).is_err() {
            return;
        }
        let len = line.len();
        line.push('\0');
        // SAFETY: `f` is the caller's callback; `line` is a NUL-terminated
        // buffer of `len` bytes plus the terminator, alive during the call.
        unsafe { (self.f)(self.userdata, level as i32, line.as_ptr().cast(), len) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    unsafe extern "C" fn collect(ud: *mut c_void, level: i32, msg: *const c_char, len: usize) {
        // SAFETY: the test passes a Vec<(i32, String)> as userdata; `msg` is
        // NUL-terminated.
        let (v, s) = unsafe {
            (
                &mut *(ud as *mut Vec<(i32, String)>),
                CStr::from_ptr(msg).to_str().unwrap().to_owned(),
            )
        };
        assert_eq!(s.len(), len);
        v.push((level, s));
    }

    #[test]
    fn forwards_enabled_lines_only() {
        let mut lines: Vec<(i32, String)> = Vec::new();
        let l = CallbackLogger::new(
            collect,
            (&mut lines as *mut Vec<(i32, String)>).cast(),
            Level::Info,
        );
        assert!(!l.enabled(Level::Debug));
        raft_core::raft_log!(l, Level::Debug, "hidden {}", 1);
        raft_core::raft_log!(l, Level::Warn, "shown {}", 2);
        assert!(!l.enabled(Level::Off));
        assert_eq!(lines, vec![(2, "shown 2".to_owned())]);
    }
}
