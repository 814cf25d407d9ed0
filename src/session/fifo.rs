//! The operation queue: FIFO, unbounded, with the head kept inline. Callers rarely queue more
//! than one operation per direction (.NET never does), so in the common case the queue costs no
//! heap memory and a push or pop is a move of one value.
#![forbid(unsafe_code)]

use std::collections::VecDeque;

use crate::error::{Error, Result};

/// A FIFO queue whose first element lives inline.
#[derive(Debug)]
pub(super) struct Fifo<T> {
    head: Option<T>,
    /// Everything after the head; boxed so that an idle queue costs one pointer instead of a
    /// 32-byte VecDeque in every handle (the extra allocation happens only once a second
    /// operation is queued behind the head).
    #[allow(clippy::box_collection)]
    rest: Option<Box<VecDeque<T>>>,
}

impl<T> Fifo<T> {
    pub(super) fn new() -> Fifo<T> {
        Fifo { head: None, rest: None }
    }

    /// Appends `value`; fails only when memory for the overflow part cannot be had.
    #[inline(always)]
    pub(super) fn push_back(&mut self, value: T) -> Result<()> {
        if self.head.is_none() {
            self.head = Some(value);
            return Ok(());
        }
        let rest = self.rest.get_or_insert_with(|| Box::new(VecDeque::new()));
        rest.try_reserve(1).map_err(|_| Error::OutOfMemory)?;
        rest.push_back(value);
        Ok(())
    }

    /// `push_back(make())` with its common case (an empty queue) inlined into the caller: the
    /// value is built straight in the head, not on the stack and then moved (WebSocketSend's
    /// path).
    #[inline(always)]
    pub(super) fn push_back_with(&mut self, make: impl FnOnce() -> T) -> Result<()> {
        if self.head.is_none() {
            self.head = Some(make());
            return Ok(());
        }
        self.push_back(make())
    }

    pub(super) fn front(&self) -> Option<&T> {
        self.head.as_ref()
    }

    pub(super) fn front_mut(&mut self) -> Option<&mut T> {
        self.head.as_mut()
    }

    #[inline(always)]
    pub(super) fn pop_front(&mut self) -> Option<T> {
        let value = self.head.take();
        // Without an overflow part the head is simply gone (no move of a `None` into it).
        if let Some(rest) = self.rest.as_mut() {
            self.head = rest.pop_front();
        }
        value
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = &T> {
        self.head.iter().chain(self.rest.iter().flat_map(|rest| rest.iter()))
    }

    pub(super) fn iter_mut(&mut self) -> impl Iterator<Item = &mut T> {
        self.head.iter_mut().chain(self.rest.iter_mut().flat_map(|rest| rest.iter_mut()))
    }
}

#[cfg(test)]
mod tests {
    use super::Fifo;

    #[test]
    fn keeps_order_across_the_inline_head() {
        let mut q = Fifo::new();
        for i in 0..5 {
            q.push_back(i).unwrap();
        }
        assert_eq!(q.iter().copied().collect::<Vec<_>>(), vec![0, 1, 2, 3, 4]);
        assert_eq!(q.pop_front(), Some(0));
        q.push_back(5).unwrap();
        *q.front_mut().unwrap() += 10;
        let mut out = Vec::new();
        while let Some(v) = q.pop_front() {
            out.push(v);
        }
        assert_eq!(out, vec![11, 2, 3, 4, 5]);
        assert_eq!(q.front(), None);
    }
}
