//! Console mode (`stata-mp -q` with pipes): commands from stdin, prompt and output on
//! block-buffered stdout, errors return to the prompt with the data kept.

use std::cell::RefCell;
use std::io::BufRead;
use std::rc::Rc;
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::Duration;

use crate::error::Flow;
use crate::interp::{Block, Interp, block_of, brace_delta};
use crate::signals;

/// Lines from stdin, read on a helper thread so that the main thread can notice an
/// interrupt that arrives while it waits at an idle prompt.
pub(crate) struct Input {
    rx: Receiver<String>,
}

impl Input {
    pub(crate) fn start() -> Self {
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            let stdin = std::io::stdin();
            for line in stdin.lock().lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Input { rx }
    }

    /// The next line, or None at end of input. An interrupt while idle is dropped,
    /// as Stata ignores Break at its prompt; one that arrives with input already
    /// waiting stays pending and breaks the command that input starts.
    pub(crate) fn next_line(&mut self) -> Option<String> {
        loop {
            match self.rx.recv_timeout(Duration::from_millis(10)) {
                Ok(l) => return Some(l),
                Err(RecvTimeoutError::Timeout) => {
                    if signals::pending() {
                        signals::clear();
                    }
                }
                Err(RecvTimeoutError::Disconnected) => return None,
            }
        }
    }
}

/// Runs the read-eval loop until end of input or `exit, clear`. Returns the exit code.
pub(crate) fn run(it: &mut Interp) -> i32 {
    let input = Rc::new(RefCell::new(Input::start()));
    let for_more = Rc::clone(&input);
    it.out.more_wait = Some(Box::new(move || {
        for_more.borrow_mut().next_line().is_some()
    }));
    loop {
        it.out.console_text(". ");
        let Some(line) = input.borrow_mut().next_line() else {
            break;
        };
        it.out.prompt_echo(". ", &line);
        it.out.new_page();
        let text = line.trim().to_string();
        if text.is_empty() || text.starts_with('*') || text.starts_with("//") {
            continue;
        }
        let body = block_of(&text).map(|kind| gather(it, &input, &kind));
        let result = it.exec_line(&text, body.as_deref(), body.is_some());
        match it.settle(result) {
            Ok(None) => {}
            Ok(Some(_)) => it.out.blank(),
            Err(Flow::ExitStata) => break,
            Err(_) => it.out.blank(),
        }
    }
    it.out.flush_console();
    0
}

/// Reads a block body typed at the prompt, prompting `  2. ` like Stata.
fn gather(it: &mut Interp, input: &Rc<RefCell<Input>>, kind: &Block) -> Vec<String> {
    let mut body = Vec::new();
    let mut n = if *kind == Block::Program { 1 } else { 2 };
    let mut depth = 1;
    loop {
        let prompt = format!("{n:>3}. ");
        it.out.console_text(&prompt);
        let Some(line) = input.borrow_mut().next_line() else {
            return body;
        };
        it.out.prompt_echo(&prompt, &line);
        n += 1;
        let done = match kind {
            Block::Program => line.trim() == "end",
            Block::Braces => {
                depth += brace_delta(&line);
                depth == 0
            }
        };
        if done {
            return body;
        }
        body.push(line.trim().to_string());
    }
}
