//! The history file: one operation per line, as the kv fault test writes it.
//!
//! ```text
//! # client key call_us ret_us op arg1 arg2 result
//! c1 k1 1000 1800 put v1 - ok
//! c2 k1 1100 1500 get - - value:v1
//! c3 k1 1200 inf  cas v1 v2 unknown
//! c2 k1 1600 1900 cas ~ v3 mismatch:v1
//! ```
//!
//! Times are integers (microseconds in practice; only their order matters).
//! `ret_us` is `inf` exactly when the result is `unknown`: the client never
//! learned the outcome (it timed out or lost its connection), so the
//! operation may have taken effect at any time after its call, or never.
//! Values are tokens without whitespace; `~` stands for "absent" (a `get` of
//! a missing key, a `cas` whose expected value is "no value"), so `~` itself
//! cannot be a value. Results: `ok` (put, cas that set), `value:TOK` (get),
//! `mismatch:TOK` (cas that did not set; TOK is the value found), `unknown`.
//! Blank lines and lines starting with `#` are ignored.

use std::fmt;

/// What an operation asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    /// Set the key to a value.
    Put(String),
    /// Read the key.
    Get,
    /// Set the key to `new` if it holds `old` (`None`: if it is absent).
    Cas {
        /// The expected current value, `None` for "absent".
        old: Option<String>,
        /// The value to set.
        new: String,
    },
}

/// What the client was told.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    /// A put or a cas that set the value.
    Ok,
    /// A get's answer (`None`: the key was absent).
    Value(Option<String>),
    /// A cas that did not set; the value it found (`None`: absent).
    Mismatch(Option<String>),
    /// No answer: the operation may or may not have taken effect.
    Unknown,
}

/// One operation of the history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Op {
    /// The client (process) that ran it; for reports only.
    pub client: String,
    /// The key it touched.
    pub key: String,
    /// Invocation time.
    pub call: u64,
    /// Completion time; `None` when the outcome is unknown (open-ended).
    pub ret: Option<u64>,
    /// The request.
    pub input: Input,
    /// The answer.
    pub output: Output,
    /// Line number in the history file (1-based; 0 when built in code).
    pub line: usize,
}

/// A line of the history that could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong with it.
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "history line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for ParseError {}

fn value_token(tok: &str) -> Option<String> {
    if tok == "~" {
        None
    } else {
        Some(tok.to_string())
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "~".into());
        let ret = self.ret.map_or("inf".to_string(), |r| r.to_string());
        let (op, a, b) = match &self.input {
            Input::Put(v) => ("put", v.clone(), "-".to_string()),
            Input::Get => ("get", "-".to_string(), "-".to_string()),
            Input::Cas { old, new } => ("cas", show(old), new.clone()),
        };
        let res = match &self.output {
            Output::Ok => "ok".to_string(),
            Output::Value(v) => format!("value:{}", show(v)),
            Output::Mismatch(v) => format!("mismatch:{}", show(v)),
            Output::Unknown => "unknown".to_string(),
        };
        write!(
            f,
            "{} {} {} {} {} {} {} {}",
            self.client, self.key, self.call, ret, op, a, b, res
        )
    }
}

fn parse_line(line: &str, n: usize) -> Result<Op, String> {
    let f: Vec<&str> = line.split_whitespace().collect();
    if f.len() != 8 {
        return Err(format!("expected 8 fields, found {}", f.len()));
    }
    let call: u64 = f[2]
        .parse()
        .map_err(|_| format!("bad call time {:?}", f[2]))?;
    let ret = if f[3] == "inf" {
        None
    } else {
        Some(
            f[3].parse::<u64>()
                .map_err(|_| format!("bad return time {:?}", f[3]))?,
        )
    };
    if let Some(r) = ret {
        if r < call {
            return Err(format!("returns ({r}) before it is called ({call})"));
        }
    }
    let input = match f[4] {
        "put" if f[5] != "~" && f[6] == "-" => Input::Put(f[5].to_string()),
        "get" if f[5] == "-" && f[6] == "-" => Input::Get,
        "cas" if f[6] != "~" && f[6] != "-" => Input::Cas {
            old: value_token(f[5]),
            new: f[6].to_string(),
        },
        other => return Err(format!("bad operation {other:?} {:?} {:?}", f[5], f[6])),
    };
    let output = if f[7] == "ok" {
        Output::Ok
    } else if f[7] == "unknown" {
        Output::Unknown
    } else if let Some(v) = f[7].strip_prefix("value:") {
        Output::Value(value_token(v))
    } else if let Some(v) = f[7].strip_prefix("mismatch:") {
        Output::Mismatch(value_token(v))
    } else {
        return Err(format!("bad result {:?}", f[7]));
    };
    let fits = matches!(
        (&input, &output),
        (Input::Put(_), Output::Ok | Output::Unknown)
            | (Input::Get, Output::Value(_) | Output::Unknown)
            | (
                Input::Cas { .. },
                Output::Ok | Output::Mismatch(_) | Output::Unknown
            )
    );
    if !fits {
        return Err(format!(
            "result {:?} does not fit operation {:?}",
            f[7], f[4]
        ));
    }
    if (output == Output::Unknown) != ret.is_none() {
        return Err("the return time is \"inf\" exactly when the result is \"unknown\"".into());
    }
    Ok(Op {
        client: f[0].to_string(),
        key: f[1].to_string(),
        call,
        ret,
        input,
        output,
        line: n,
    })
}

/// Reads a history (the format above). Every malformed line is an error
/// naming the line; nothing is guessed.
pub fn parse_history(text: &str) -> Result<Vec<Op>, ParseError> {
    let mut ops = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        ops.push(parse_line(t, i + 1).map_err(|message| ParseError {
            line: i + 1,
            message,
        })?);
    }
    Ok(ops)
}
