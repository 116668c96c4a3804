//! Parser: a recognizer for CPython 3.11's expression grammar that keeps the structure
//! `literal_eval` looks at, the depth of the AST `ast.parse` would build, and an estimate of the
//! PEG parser's rule depth.

use super::INT_MAX_STR_DIGITS;
use super::bigint::Int;
use super::convert::Py;
use super::lexer::{Kw, Lexer, Num, Op, Tok, Token, names_set};
use super::strings::{decode_bytes, decode_str, fstring_check};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Fail {
    /// SyntaxError (or ValueError from the parser): the string is kept.
    Syntax,
    /// A `\N{…}` escape we cannot resolve: the string is kept (documented difference).
    UnknownName,
    /// The parser's stack overflowed: MemoryError, Ansible fails.
    Memory,
}

pub(super) type PResult<T> = Result<T, Fail>;

/// Whether an expression can be an assignment target (for `for` clauses in comprehensions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tgt {
    No,
    Yes,
    /// `*target`: valid inside a tuple or list target.
    Starred,
}

#[derive(Debug)]
pub(super) struct Expr {
    pub(super) kind: Kind,
    /// Height of this subtree in Python's AST (a leaf is 1).
    pub(super) depth: u32,
    tgt: Tgt,
}

/// What `literal_eval` can see of an expression; everything else is `Other` (a ValueError).
#[derive(Debug)]
pub(super) enum Kind {
    Const(Py),
    Name {
        is_set: bool,
    },
    Tuple(Vec<Expr>),
    List(Vec<Expr>),
    Set(Vec<Expr>),
    /// `None` keys are `**mapping` entries.
    Dict(Vec<(Option<Expr>, Expr)>),
    Unary {
        neg: bool,
        operand: Box<Expr>,
    },
    AddSub {
        sub: bool,
        left: Box<Expr>,
        right: Box<Expr>,
    },
    EmptySetCall,
    Starred,
    Other,
}

impl Expr {
    fn other(depth: u32) -> Expr {
        Expr {
            kind: Kind::Other,
            depth,
            tgt: Tgt::No,
        }
    }
    fn leaf(kind: Kind) -> Expr {
        Expr {
            kind,
            depth: 1,
            tgt: Tgt::No,
        }
    }
    fn is_starred(&self) -> bool {
        matches!(self.kind, Kind::Starred)
    }
}

/// The PEG parser fails with MemoryError when a rule is entered 6000 rules deep. Levels are tracked
/// as the level of the `factor` rule for the current operand; an atom sits 5 rules below it, and the
/// top-level `factor` is at 20 (measured: 5975 unary minus signs parse, 5976 do not).
const MAX_PARSER_LEVEL: u32 = 6000;
const TOP_LEVEL: u32 = 20;
/// Measured growth of the `factor` level when an operand is nested in each construct.
mod lv {
    pub const UNARY: u32 = 1;
    pub const NOT: u32 = 1;
    pub const POW: u32 = 2;
    pub const LAMBDA_BODY: u32 = 2;
    pub const LAMBDA_DEFAULT: u32 = 8;
    pub const IF_ELSE: u32 = 1;
    pub const BOOL_OPERAND: u32 = 2;
    pub const COMPARE_OPERAND: u32 = 3;
    pub const GROUP: u32 = 28;
    pub const TUPLE_LATER: u32 = 30;
    pub const LIST: u32 = 29;
    pub const LIST_LATER: u32 = 30;
    pub const DICT: u32 = 29;
    pub const CALL_FIRST: u32 = 24;
    pub const CALL_LATER: u32 = 28;
    pub const CALL_STARRED: u32 = 27;
    pub const SUBSCRIPT: u32 = 24;
    pub const COMP_ITER: u32 = 27;
    pub const COMP_IF: u32 = 29;
    pub const WALRUS: u32 = 1;
    pub const YIELD: u32 = 29;
    pub const AWAIT: u32 = 0;
    pub const TOP_TUPLE_LATER: u32 = 2;
}

pub(super) struct Parser<'a> {
    src: &'a str,
    lex: Lexer<'a>,
    toks: Vec<Token>,
    pos: usize,
    /// Parsing an f-string replacement field (`fstring: star_expressions`).
    fstring: bool,
}

impl<'a> Parser<'a> {
    pub(super) fn new(src: &'a str, fstring: bool) -> Self {
        Parser {
            src,
            lex: Lexer::new(src),
            toks: Vec::new(),
            pos: 0,
            fstring,
        }
    }

    pub(super) fn parse(&mut self) -> PResult<Expr> {
        // `fstring: star_expressions` is one rule deeper than `eval: expressions`.
        let e = if self.fstring {
            self.star_expressions(TOP_LEVEL + 1)?
        } else {
            self.expressions(TOP_LEVEL)?
        };
        if self.peek() == Tok::Newline {
            self.bump();
        }
        if self.peek() != Tok::End {
            return Err(Fail::Syntax);
        }
        Ok(e)
    }

    // -- token access -----------------------------------------------------------------------

    fn fill(&mut self, n: usize) {
        while self.toks.len() <= self.pos + n {
            if self
                .toks
                .last()
                .is_some_and(|last| matches!(last.tok, Tok::End | Tok::Error))
            {
                return;
            }
            let t = self.lex.next_token();
            self.toks.push(t);
        }
    }

    fn peek_n(&mut self, n: usize) -> Tok {
        self.fill(n);
        match self.toks.get(self.pos + n).or(self.toks.last()) {
            Some(t) => t.tok,
            None => Tok::End,
        }
    }

    fn peek(&mut self) -> Tok {
        self.peek_n(0)
    }

    fn bump(&mut self) -> Token {
        self.fill(0);
        let t = self.toks.get(self.pos).or(self.toks.last()).copied();
        let t = t.unwrap_or(Token {
            tok: Tok::End,
            start: self.src.len(),
            end: self.src.len(),
        });
        if !matches!(t.tok, Tok::End | Tok::Error) {
            self.pos += 1;
        }
        t
    }

    fn eat(&mut self, tok: Tok) -> bool {
        if self.peek() == tok {
            self.bump();
            true
        } else {
            false
        }
    }

    fn eat_op(&mut self, op: Op) -> bool {
        self.eat(Tok::Op(op))
    }

    fn eat_kw(&mut self, kw: Kw) -> bool {
        self.eat(Tok::Kw(kw))
    }

    fn expect_op(&mut self, op: Op) -> PResult<()> {
        if self.eat_op(op) {
            Ok(())
        } else {
            Err(Fail::Syntax)
        }
    }

    fn at_op(&mut self, op: Op) -> bool {
        self.peek() == Tok::Op(op)
    }

    fn at_kw(&mut self, kw: Kw) -> bool {
        self.peek() == Tok::Kw(kw)
    }

    fn at_comp(&mut self) -> bool {
        self.at_kw(Kw::For) || self.at_kw(Kw::Async)
    }

    /// `NAME ':='`: the start of an assignment expression.
    fn at_walrus(&mut self) -> bool {
        self.peek() == Tok::Name && self.peek_n(1) == Tok::Op(Op::ColonEqual)
    }

    fn starts_expression(&mut self) -> bool {
        match self.peek() {
            Tok::Name | Tok::Number(_) | Tok::Str => true,
            Tok::Kw(k) => matches!(
                k,
                Kw::True | Kw::False | Kw::None | Kw::Not | Kw::Lambda | Kw::Await
            ),
            Tok::Op(o) => matches!(
                o,
                Op::LPar | Op::LSqb | Op::LBrace | Op::Minus | Op::Plus | Op::Tilde | Op::Ellipsis
            ),
            _ => false,
        }
    }

    fn check_level(level: u32) -> PResult<()> {
        if level + 5 > MAX_PARSER_LEVEL {
            Err(Fail::Memory)
        } else {
            Ok(())
        }
    }

    // -- expressions ------------------------------------------------------------------------

    /// `expressions: expression (',' expression)* [',']` (the top of eval input; no `*`).
    fn expressions(&mut self, level: u32) -> PResult<Expr> {
        let first = self.expression(level)?;
        if !self.at_op(Op::Comma) {
            return Ok(first);
        }
        let mut items = vec![first];
        while self.eat_op(Op::Comma) {
            if matches!(self.peek(), Tok::Newline | Tok::End) {
                break;
            }
            items.push(self.expression(level + lv::TOP_TUPLE_LATER)?);
        }
        Ok(seq_expr(Kind::Tuple, items))
    }

    /// `star_expressions`: like `expressions` but `*x` items are allowed.
    fn star_expressions(&mut self, level: u32) -> PResult<Expr> {
        let first = self.star_expression(level)?;
        if !self.at_op(Op::Comma) {
            return Ok(first);
        }
        let mut items = vec![first];
        while self.eat_op(Op::Comma) {
            if !(self.starts_expression() || self.at_op(Op::Star)) {
                break;
            }
            items.push(self.star_expression(level + lv::TOP_TUPLE_LATER)?);
        }
        Ok(seq_expr(Kind::Tuple, items))
    }

    fn star_expression(&mut self, level: u32) -> PResult<Expr> {
        if self.eat_op(Op::Star) {
            let inner = self.bitwise_or(level)?;
            return Ok(starred(inner));
        }
        self.expression(level)
    }

    /// `expression`: lambdas and conditional expressions (chains of them iteratively), else a
    /// disjunction.
    fn expression(&mut self, level: u32) -> PResult<Expr> {
        let mut level = level;
        let mut frames: Vec<u32> = Vec::new();
        let last = loop {
            if self.eat_kw(Kw::Lambda) {
                let args = self.lambda_params(level)?;
                self.expect_op(Op::Colon)?;
                frames.push(args);
                level += lv::LAMBDA_BODY;
                Self::check_level(level)?;
                continue;
            }
            let body = self.disjunction(level)?;
            if self.eat_kw(Kw::If) {
                let cond = self.disjunction(level)?;
                if !self.eat_kw(Kw::Else) {
                    return Err(Fail::Syntax);
                }
                frames.push(body.depth.max(cond.depth));
                level += lv::IF_ELSE;
                Self::check_level(level)?;
                continue;
            }
            break body;
        };
        if frames.is_empty() {
            return Ok(last);
        }
        let depth = frames
            .iter()
            .rev()
            .fold(last.depth, |inner, &own| 1 + inner.max(own));
        Ok(Expr::other(depth))
    }

    /// Lambda parameters up to (not including) the `:`; returns the height of the `arguments` node.
    fn lambda_params(&mut self, level: u32) -> PResult<u32> {
        #[derive(PartialEq)]
        enum Star {
            None,
            Bare,
            Named,
        }
        let mut depth = 0u32;
        let (mut seen_default, mut seen_slash, mut seen_kwargs) = (false, false, false);
        let mut positional = 0usize;
        let mut kwonly = 0usize;
        let mut star = Star::None;
        if self.at_op(Op::Colon) {
            return Ok(1);
        }
        loop {
            match self.peek() {
                Tok::Name => {
                    self.bump();
                    depth = depth.max(1);
                    let has_default = self.eat_op(Op::Equal);
                    if has_default {
                        let d = self.expression(level + lv::LAMBDA_DEFAULT)?;
                        depth = depth.max(d.depth);
                    }
                    if seen_kwargs {
                        return Err(Fail::Syntax);
                    }
                    if star == Star::None {
                        if !has_default && seen_default {
                            return Err(Fail::Syntax); // non-default argument follows default argument
                        }
                        seen_default |= has_default;
                        positional += 1;
                    } else {
                        kwonly += 1;
                    }
                }
                Tok::Op(Op::Slash) => {
                    if seen_slash || star != Star::None || seen_kwargs || positional == 0 {
                        return Err(Fail::Syntax);
                    }
                    self.bump();
                    seen_slash = true;
                }
                Tok::Op(Op::Star) => {
                    if star != Star::None || seen_kwargs {
                        return Err(Fail::Syntax);
                    }
                    self.bump();
                    if self.eat(Tok::Name) {
                        depth = depth.max(1);
                        star = Star::Named;
                    } else {
                        star = Star::Bare;
                    }
                }
                Tok::Op(Op::DoubleStar) => {
                    if seen_kwargs {
                        return Err(Fail::Syntax);
                    }
                    self.bump();
                    if !self.eat(Tok::Name) {
                        return Err(Fail::Syntax);
                    }
                    depth = depth.max(1);
                    seen_kwargs = true;
                }
                _ => return Err(Fail::Syntax),
            }
            if self.eat_op(Op::Comma) {
                if self.at_op(Op::Colon) {
                    break;
                }
                continue;
            }
            if self.at_op(Op::Colon) {
                break;
            }
            return Err(Fail::Syntax);
        }
        if star == Star::Bare && kwonly == 0 {
            return Err(Fail::Syntax); // named arguments must follow bare *
        }
        Ok(1 + depth)
    }

    fn disjunction(&mut self, level: u32) -> PResult<Expr> {
        self.bool_op(level, Kw::Or)
    }

    /// `a or b or c` / `a and b and c`: one flat BoolOp node.
    fn bool_op(&mut self, level: u32, kw: Kw) -> PResult<Expr> {
        let first = if kw == Kw::Or {
            self.bool_op(level, Kw::And)?
        } else {
            self.inversion(level)?
        };
        if !self.at_kw(kw) {
            return Ok(first);
        }
        let mut depth = first.depth;
        while self.eat_kw(kw) {
            let operand_level = level + lv::BOOL_OPERAND;
            let e = if kw == Kw::Or {
                self.bool_op(operand_level, Kw::And)?
            } else {
                self.inversion(operand_level)?
            };
            depth = depth.max(e.depth);
        }
        Ok(Expr::other(depth + 1))
    }

    fn inversion(&mut self, level: u32) -> PResult<Expr> {
        let mut n = 0u32;
        while self.eat_kw(Kw::Not) {
            n += 1;
            Self::check_level(level + n * lv::NOT)?;
        }
        let e = self.comparison(level + n * lv::NOT)?;
        if n == 0 {
            Ok(e)
        } else {
            Ok(Expr::other(e.depth + n))
        }
    }

    fn comparison(&mut self, level: u32) -> PResult<Expr> {
        let left = self.bitwise_or(level)?;
        let mut depth = left.depth;
        let mut any = false;
        loop {
            match self.peek() {
                Tok::Op(
                    Op::EqEqual
                    | Op::NotEqual
                    | Op::Less
                    | Op::LessEqual
                    | Op::Greater
                    | Op::GreaterEqual,
                )
                | Tok::Kw(Kw::In) => {
                    self.bump();
                }
                Tok::Kw(Kw::Is) => {
                    self.bump();
                    self.eat_kw(Kw::Not);
                }
                Tok::Kw(Kw::Not) if self.peek_n(1) == Tok::Kw(Kw::In) => {
                    self.bump();
                    self.bump();
                }
                _ => break,
            }
            let right = self.bitwise_or(level + lv::COMPARE_OPERAND)?;
            depth = depth.max(right.depth);
            any = true;
        }
        if any {
            Ok(Expr::other(depth + 1))
        } else {
            Ok(left)
        }
    }

    fn bitwise_or(&mut self, level: u32) -> PResult<Expr> {
        self.binary(level, 1)
    }

    /// Left-associative binary operators by precedence climbing (`|` lowest, `* / // % @` highest).
    fn binary(&mut self, level: u32, min_prec: u8) -> PResult<Expr> {
        let mut left = self.factor(level)?;
        loop {
            let (prec, addsub) = match self.peek() {
                Tok::Op(Op::VBar) => (1, None),
                Tok::Op(Op::Circumflex) => (2, None),
                Tok::Op(Op::Amper) => (3, None),
                Tok::Op(Op::LeftShift | Op::RightShift) => (4, None),
                Tok::Op(Op::Plus) => (5, Some(false)),
                Tok::Op(Op::Minus) => (5, Some(true)),
                Tok::Op(Op::Star | Op::Slash | Op::DoubleSlash | Op::Percent | Op::At) => (6, None),
                _ => break,
            };
            if prec < min_prec {
                break;
            }
            self.bump();
            let right = self.binary(level, prec + 1)?;
            let depth = 1 + left.depth.max(right.depth);
            left = match addsub {
                Some(sub) => Expr {
                    kind: Kind::AddSub {
                        sub,
                        left: Box::new(left),
                        right: Box::new(right),
                    },
                    depth,
                    tgt: Tgt::No,
                },
                None => Expr::other(depth),
            };
        }
        Ok(left)
    }

    /// Prefix `+`, `-`, `~` (iteratively: thousands of them must not recurse), then a power.
    fn factor(&mut self, level: u32) -> PResult<Expr> {
        let mut n = 0u32;
        let mut single_sign = None;
        loop {
            let sign = match self.peek() {
                Tok::Op(Op::Minus) => Some(true),
                Tok::Op(Op::Plus) => Some(false),
                Tok::Op(Op::Tilde) => None,
                _ => break,
            };
            self.bump();
            n += 1;
            single_sign = sign;
            Self::check_level(level + n * lv::UNARY)?;
        }
        let operand = self.power(level + n * lv::UNARY)?;
        match (n, single_sign) {
            (0, _) => Ok(operand),
            (1, Some(neg)) => {
                let depth = operand.depth + 1;
                Ok(Expr {
                    kind: Kind::Unary {
                        neg,
                        operand: Box::new(operand),
                    },
                    depth,
                    tgt: Tgt::No,
                })
            }
            _ => Ok(Expr::other(operand.depth + n)),
        }
    }

    /// `power: await_primary '**' factor`, right-associative, parsed iteratively.
    fn power(&mut self, level: u32) -> PResult<Expr> {
        let base = self.await_primary(level)?;
        if !self.at_op(Op::DoubleStar) {
            return Ok(base);
        }
        // Each right operand is `prefix-ops* await_primary`; the prefix ops wrap the rest of the chain.
        let mut operands: Vec<(u32, u32)> = vec![(0, base.depth)];
        let mut level = level;
        while self.eat_op(Op::DoubleStar) {
            level += lv::POW;
            let mut n = 0u32;
            while matches!(self.peek(), Tok::Op(Op::Minus | Op::Plus | Op::Tilde)) {
                self.bump();
                n += 1;
                Self::check_level(level + n)?;
            }
            level += n;
            let operand = self.await_primary(level)?;
            operands.push((n, operand.depth));
        }
        let mut acc = 0u32;
        let mut prefix_of_acc = 0u32;
        for (i, &(prefix, depth)) in operands.iter().enumerate().rev() {
            if i + 1 == operands.len() {
                acc = depth;
            } else {
                acc = 1 + depth.max(prefix_of_acc + acc);
            }
            prefix_of_acc = prefix;
        }
        Ok(Expr::other(acc))
    }

    fn await_primary(&mut self, level: u32) -> PResult<Expr> {
        if self.eat_kw(Kw::Await) {
            let p = self.primary(level + lv::AWAIT)?;
            return Ok(Expr::other(p.depth + 1));
        }
        self.primary(level)
    }

    /// An atom followed by `.name`, `(args)` and `[slices]` trailers.
    fn primary(&mut self, level: u32) -> PResult<Expr> {
        let mut e = self.atom(level)?;
        loop {
            match self.peek() {
                Tok::Op(Op::Dot) => {
                    self.bump();
                    if !self.eat(Tok::Name) {
                        return Err(Fail::Syntax);
                    }
                    e = Expr {
                        kind: Kind::Other,
                        depth: e.depth + 1,
                        tgt: Tgt::Yes,
                    };
                }
                Tok::Op(Op::LPar) => {
                    let args = self.call_args(level)?;
                    e = match (&e.kind, args) {
                        (Kind::Name { is_set: true }, None) => Expr {
                            kind: Kind::EmptySetCall,
                            depth: e.depth + 1,
                            tgt: Tgt::No,
                        },
                        _ => Expr::other(1 + e.depth.max(args.unwrap_or(0))),
                    };
                }
                Tok::Op(Op::LSqb) => {
                    let slice = self.slices(level)?;
                    e = Expr {
                        kind: Kind::Other,
                        depth: 1 + e.depth.max(slice),
                        tgt: Tgt::Yes,
                    };
                }
                _ => return Ok(e),
            }
        }
    }

    /// Call arguments from `(` to `)`; None when there are none at all.
    fn call_args(&mut self, level: u32) -> PResult<Option<u32>> {
        self.bump(); // (
        if self.eat_op(Op::RPar) {
            return Ok(None);
        }
        // 0: positional allowed; 1: after a keyword (no positional); 2: after `**` (no `*` either).
        let mut phase = 0u8;
        let mut depth = 0u32;
        let mut first = true;
        loop {
            if self.at_op(Op::RPar) {
                break;
            }
            if self.eat_op(Op::Star) {
                if phase == 2 {
                    return Err(Fail::Syntax);
                }
                let v = self.expression(level + lv::CALL_STARRED)?;
                depth = depth.max(v.depth + 1);
            } else if self.eat_op(Op::DoubleStar) {
                let v = self.expression(level + lv::CALL_STARRED)?;
                depth = depth.max(v.depth + 1);
                phase = 2;
            } else if self.peek() == Tok::Name && self.peek_n(1) == Tok::Op(Op::Equal) {
                self.bump();
                self.bump();
                let v = self.expression(level + lv::CALL_STARRED)?;
                depth = depth.max(v.depth + 1);
                phase = phase.max(1);
            } else {
                if phase > 0 {
                    return Err(Fail::Syntax); // positional argument follows keyword argument
                }
                let arg_level = level
                    + if first {
                        lv::CALL_FIRST
                    } else {
                        lv::CALL_LATER
                    };
                let e = self.named_expression(arg_level)?;
                if first && self.at_comp() {
                    // `f(x for x in y)`: the generator expression must be the only argument. Its
                    // clauses sit 2 rules shallower than in a bracketed comprehension (measured).
                    let comps = self.comprehension(level.saturating_sub(2))?;
                    self.expect_op(Op::RPar)?;
                    return Ok(Some(1 + e.depth.max(comps)));
                }
                if self.at_op(Op::Equal) {
                    return Err(Fail::Syntax);
                }
                depth = depth.max(e.depth);
            }
            first = false;
            if !self.eat_op(Op::Comma) {
                break;
            }
        }
        self.expect_op(Op::RPar)?;
        Ok(Some(depth))
    }

    /// Subscript contents from `[` to `]`; returns the height of the slice node.
    fn slices(&mut self, level: u32) -> PResult<u32> {
        self.bump(); // [
        let level = level + lv::SUBSCRIPT;
        let mut depth = 0u32;
        let mut items = 0usize;
        let mut tuple = false;
        loop {
            let d = if self.eat_op(Op::Star) {
                tuple = true; // `a[*b]` is a one-element tuple
                self.expression(level)?.depth + 1
            } else if self.at_walrus() {
                self.named_expression(level)?.depth
            } else {
                let lower = if self.at_op(Op::Colon) {
                    None
                } else {
                    Some(self.expression(level)?)
                };
                if self.eat_op(Op::Colon) {
                    let mut d = lower.map_or(0, |e| e.depth);
                    if self.starts_expression() {
                        d = d.max(self.expression(level)?.depth);
                    }
                    if self.eat_op(Op::Colon) && self.starts_expression() {
                        d = d.max(self.expression(level)?.depth);
                    }
                    d + 1
                } else {
                    if self.at_op(Op::ColonEqual) {
                        return Err(Fail::Syntax);
                    }
                    match lower {
                        Some(e) => e.depth,
                        None => return Err(Fail::Syntax),
                    }
                }
            };
            depth = depth.max(d);
            items += 1;
            if !self.eat_op(Op::Comma) {
                break;
            }
            tuple = true;
            if self.at_op(Op::RSqb) {
                break;
            }
        }
        self.expect_op(Op::RSqb)?;
        Ok(if tuple || items > 1 { depth + 1 } else { depth })
    }

    fn atom(&mut self, level: u32) -> PResult<Expr> {
        Self::check_level(level)?;
        match self.peek() {
            Tok::Name => {
                let t = self.bump();
                let is_set = names_set(&self.src[t.start..t.end]);
                Ok(Expr {
                    kind: Kind::Name { is_set },
                    depth: 1,
                    tgt: Tgt::Yes,
                })
            }
            Tok::Kw(Kw::True) => {
                self.bump();
                Ok(Expr::leaf(Kind::Const(Py::Bool(true))))
            }
            Tok::Kw(Kw::False) => {
                self.bump();
                Ok(Expr::leaf(Kind::Const(Py::Bool(false))))
            }
            Tok::Kw(Kw::None) => {
                self.bump();
                Ok(Expr::leaf(Kind::Const(Py::None)))
            }
            Tok::Number(kind) => {
                let t = self.bump();
                let value = number_value(&self.src[t.start..t.end], kind)?;
                Ok(Expr::leaf(Kind::Const(value)))
            }
            Tok::Str => self.strings(),
            Tok::Op(Op::Ellipsis) => {
                self.bump();
                Ok(Expr::leaf(Kind::Const(Py::Ellipsis)))
            }
            Tok::Op(Op::LPar) => self.paren(level),
            Tok::Op(Op::LSqb) => self.list(level),
            Tok::Op(Op::LBrace) => self.brace(level),
            _ => Err(Fail::Syntax),
        }
    }

    /// `(…)`: empty tuple, parenthesised yield, generator expression, tuple, or a group (which is
    /// transparent: `(1)` is the constant 1).
    fn paren(&mut self, level: u32) -> PResult<Expr> {
        self.bump(); // (
        if self.eat_op(Op::RPar) {
            return Ok(Expr {
                kind: Kind::Tuple(Vec::new()),
                depth: 1,
                tgt: Tgt::Yes,
            });
        }
        if self.eat_kw(Kw::Yield) {
            let d = self.yield_expr(level + lv::YIELD)?;
            self.expect_op(Op::RPar)?;
            return Ok(Expr::other(d));
        }
        let inner = level + lv::GROUP;
        let first = self.star_named_expression(inner)?;
        if self.at_comp() {
            if first.is_starred() {
                return Err(Fail::Syntax);
            }
            let comps = self.comprehension(level)?;
            self.expect_op(Op::RPar)?;
            return Ok(Expr::other(1 + first.depth.max(comps)));
        }
        if self.at_op(Op::Comma) {
            let mut items = vec![first];
            while self.eat_op(Op::Comma) {
                if self.at_op(Op::RPar) {
                    break;
                }
                items.push(self.star_named_expression(level + lv::TUPLE_LATER)?);
            }
            self.expect_op(Op::RPar)?;
            return Ok(seq_expr(Kind::Tuple, items));
        }
        self.expect_op(Op::RPar)?;
        if first.is_starred() {
            return Err(Fail::Syntax); // cannot use starred expression here
        }
        Ok(first)
    }

    /// After `yield`: `yield from x`, `yield`, or `yield a, *b`.
    fn yield_expr(&mut self, level: u32) -> PResult<u32> {
        if self.eat_kw(Kw::From) {
            return Ok(self.expression(level)?.depth + 1);
        }
        if self.starts_expression() || self.at_op(Op::Star) {
            return Ok(self.star_expressions(level)?.depth + 1);
        }
        Ok(1)
    }

    fn list(&mut self, level: u32) -> PResult<Expr> {
        self.bump(); // [
        if self.eat_op(Op::RSqb) {
            return Ok(Expr {
                kind: Kind::List(Vec::new()),
                depth: 1,
                tgt: Tgt::Yes,
            });
        }
        let inner = level + lv::LIST;
        let first = self.star_named_expression(inner)?;
        if self.at_comp() {
            if first.is_starred() {
                return Err(Fail::Syntax);
            }
            let comps = self.comprehension(level)?;
            self.expect_op(Op::RSqb)?;
            return Ok(Expr::other(1 + first.depth.max(comps)));
        }
        let mut items = vec![first];
        while self.eat_op(Op::Comma) {
            if self.at_op(Op::RSqb) {
                break;
            }
            items.push(self.star_named_expression(level + lv::LIST_LATER)?);
        }
        self.expect_op(Op::RSqb)?;
        Ok(seq_expr(Kind::List, items))
    }

    /// `{…}`: dict, set, or their comprehensions.
    fn brace(&mut self, level: u32) -> PResult<Expr> {
        self.bump(); // {
        if self.eat_op(Op::RBrace) {
            return Ok(Expr::leaf(Kind::Dict(Vec::new())));
        }
        let inner = level + lv::DICT;
        let later = level + lv::LIST_LATER;
        if self.eat_op(Op::DoubleStar) {
            let v = self.bitwise_or(inner)?;
            if self.at_comp() {
                return Err(Fail::Syntax); // dict unpacking cannot be used in dict comprehension
            }
            return self.dict_rest(vec![(None, v)], later);
        }
        let first = if self.at_op(Op::Star) || self.at_walrus() {
            self.star_named_expression(inner)?
        } else {
            let key = self.expression(inner)?;
            if self.eat_op(Op::Colon) {
                let value = self.expression(inner)?;
                if self.at_comp() {
                    let comps = self.comprehension(level)?;
                    self.expect_op(Op::RBrace)?;
                    return Ok(Expr::other(1 + key.depth.max(value.depth).max(comps)));
                }
                return self.dict_rest(vec![(Some(key), value)], later);
            }
            if self.at_op(Op::ColonEqual) {
                return Err(Fail::Syntax);
            }
            key
        };
        if self.at_comp() {
            if first.is_starred() {
                return Err(Fail::Syntax);
            }
            let comps = self.comprehension(level)?;
            self.expect_op(Op::RBrace)?;
            return Ok(Expr::other(1 + first.depth.max(comps)));
        }
        let mut items = vec![first];
        while self.eat_op(Op::Comma) {
            if self.at_op(Op::RBrace) {
                break;
            }
            items.push(self.star_named_expression(later)?);
        }
        self.expect_op(Op::RBrace)?;
        let mut e = seq_expr(Kind::Set, items);
        e.tgt = Tgt::No;
        Ok(e)
    }

    fn dict_rest(&mut self, mut pairs: Vec<(Option<Expr>, Expr)>, level: u32) -> PResult<Expr> {
        while self.eat_op(Op::Comma) {
            if self.at_op(Op::RBrace) {
                break;
            }
            if self.eat_op(Op::DoubleStar) {
                let v = self.bitwise_or(level)?;
                pairs.push((None, v));
            } else {
                let k = self.expression(level)?;
                self.expect_op(Op::Colon)?;
                let v = self.expression(level)?;
                pairs.push((Some(k), v));
            }
        }
        self.expect_op(Op::RBrace)?;
        let depth = 1 + pairs
            .iter()
            .map(|(k, v)| k.as_ref().map_or(0, |k| k.depth).max(v.depth))
            .max()
            .unwrap_or(0);
        Ok(Expr {
            kind: Kind::Dict(pairs),
            depth,
            tgt: Tgt::No,
        })
    }

    fn star_named_expression(&mut self, level: u32) -> PResult<Expr> {
        if self.eat_op(Op::Star) {
            let inner = self.bitwise_or(level)?;
            return Ok(starred(inner));
        }
        self.named_expression(level)
    }

    /// `NAME ':=' expression | expression !':='`.
    fn named_expression(&mut self, level: u32) -> PResult<Expr> {
        if self.at_walrus() {
            self.bump();
            self.bump();
            let value = self.expression(level + lv::WALRUS)?;
            return Ok(Expr::other(1 + value.depth.max(1)));
        }
        let e = self.expression(level)?;
        if self.at_op(Op::ColonEqual) {
            return Err(Fail::Syntax);
        }
        Ok(e)
    }

    /// `for_if_clauses`; returns the height of the tallest `comprehension` node.
    fn comprehension(&mut self, level: u32) -> PResult<u32> {
        let mut depth = 0u32;
        loop {
            let is_async = self.eat_kw(Kw::Async);
            if !self.eat_kw(Kw::For) {
                if is_async || depth == 0 {
                    return Err(Fail::Syntax);
                }
                return Ok(depth);
            }
            let target = self.star_targets(level)?;
            if !self.eat_kw(Kw::In) {
                return Err(Fail::Syntax);
            }
            let mut d = target.max(self.disjunction(level + lv::COMP_ITER)?.depth);
            while self.eat_kw(Kw::If) {
                d = d.max(self.disjunction(level + lv::COMP_IF)?.depth);
            }
            depth = depth.max(d + 1);
            if !self.at_comp() {
                return Ok(depth);
            }
        }
    }

    /// The target of a `for` clause; returns its height.
    fn star_targets(&mut self, level: u32) -> PResult<u32> {
        let first = self.star_target(level)?;
        if !self.at_op(Op::Comma) {
            return Ok(first);
        }
        let mut depth = first;
        while self.eat_op(Op::Comma) {
            if self.at_kw(Kw::In) {
                break;
            }
            depth = depth.max(self.star_target(level)?);
        }
        Ok(depth + 1)
    }

    fn star_target(&mut self, level: u32) -> PResult<u32> {
        if self.eat_op(Op::Star) {
            let t = self.primary(level)?;
            if t.tgt != Tgt::Yes {
                return Err(Fail::Syntax);
            }
            return Ok(t.depth + 1);
        }
        let t = self.primary(level)?;
        if t.tgt != Tgt::Yes {
            return Err(Fail::Syntax);
        }
        Ok(t.depth)
    }

    /// Adjacent string literals: all str (with f-strings) or all bytes.
    fn strings(&mut self) -> PResult<Expr> {
        let mut bytes_mode = None;
        let mut any_f = false;
        let mut parts: Vec<(usize, usize)> = Vec::new();
        while self.peek() == Tok::Str {
            let t = self.bump();
            let lit = StrLit::split(&self.src[t.start..t.end]);
            match bytes_mode {
                None => bytes_mode = Some(lit.bytes),
                Some(b) if b != lit.bytes => return Err(Fail::Syntax), // cannot mix bytes and nonbytes
                Some(_) => {}
            }
            any_f |= lit.f;
            parts.push((t.start, t.end));
        }
        if bytes_mode == Some(true) {
            let mut out = Vec::new();
            for &(a, b) in &parts {
                let lit = StrLit::split(&self.src[a..b]);
                if !lit.body.is_ascii() {
                    return Err(Fail::Syntax); // bytes can only contain ASCII literal characters
                }
                decode_bytes(lit.body, lit.raw, &mut out)?;
            }
            return Ok(Expr::leaf(Kind::Const(Py::Bytes(out))));
        }
        if any_f {
            // A JoinedStr: validated (escapes, replacement fields), never a literal.
            let mut depth = 0u32;
            for &(a, b) in &parts {
                let lit = StrLit::split(&self.src[a..b]);
                if lit.f {
                    depth = depth.max(fstring_check(lit.body, lit.raw)?);
                } else if !lit.body.is_empty() {
                    if !lit.raw {
                        decode_str(lit.body)?;
                    }
                    depth = depth.max(1);
                }
            }
            return Ok(Expr::other(depth + 1));
        }
        let mut out = String::new();
        for &(a, b) in &parts {
            let lit = StrLit::split(&self.src[a..b]);
            if lit.raw {
                out.push_str(lit.body);
            } else {
                out.push_str(&decode_str(lit.body)?);
            }
        }
        Ok(Expr::leaf(Kind::Const(Py::Str(out))))
    }
}

fn starred(inner: Expr) -> Expr {
    let tgt = if inner.tgt == Tgt::Yes {
        Tgt::Starred
    } else {
        Tgt::No
    };
    Expr {
        kind: Kind::Starred,
        depth: inner.depth + 1,
        tgt,
    }
}

/// A tuple/list/set display; as a target it is valid when every element is.
fn seq_expr(make: fn(Vec<Expr>) -> Kind, items: Vec<Expr>) -> Expr {
    let depth = 1 + items.iter().map(|e| e.depth).max().unwrap_or(0);
    let tgt = if items.iter().all(|e| e.tgt != Tgt::No) {
        Tgt::Yes
    } else {
        Tgt::No
    };
    Expr {
        kind: make(items),
        depth,
        tgt,
    }
}

/// A string token split into prefix flags and body.
struct StrLit<'s> {
    bytes: bool,
    raw: bool,
    f: bool,
    body: &'s str,
}

impl<'s> StrLit<'s> {
    fn split(token: &'s str) -> StrLit<'s> {
        let q = token.find(['\'', '"']).unwrap_or(0);
        let prefix = &token[..q];
        let quote = &token[q..q + 1];
        let triple = token[q..].starts_with(&quote.repeat(3)) && token.len() - q >= 6;
        let width = if triple { 3 } else { 1 };
        let body = token
            .get(q + width..token.len().saturating_sub(width))
            .unwrap_or("");
        let has = |c: char| prefix.chars().any(|p| p.eq_ignore_ascii_case(&c));
        StrLit {
            bytes: has('b'),
            raw: has('r'),
            f: has('f'),
            body,
        }
    }
}

/// The value of a number token.
fn number_value(text: &str, kind: Num) -> PResult<Py> {
    let clean: String = text.chars().filter(|&c| c != '_').collect();
    match kind {
        Num::Int(radix) => {
            let digits = if radix == 10 { &clean[..] } else { &clean[2..] };
            if radix == 10 {
                let significant = digits.trim_start_matches('0');
                if significant.len() > INT_MAX_STR_DIGITS {
                    return Err(Fail::Syntax); // the parser turns the ValueError into a SyntaxError
                }
            }
            Ok(Py::Int(Int::parse(digits, radix)))
        }
        Num::Float => Ok(Py::Float(parse_float(&clean))),
        Num::Imag => Ok(Py::Complex(0.0, parse_float(&clean[..clean.len() - 1]))),
    }
}

/// Python's float() of a literal: correctly rounded, like Rust's parser.
fn parse_float(text: &str) -> f64 {
    // The tokenizer admitted only well-formed literals, which Rust parses too (`1.`, `.5`, `1.e5`).
    text.parse::<f64>().unwrap_or(f64::NAN)
}
