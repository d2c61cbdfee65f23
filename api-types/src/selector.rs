//! Label selectors (`app=web,tier notin (db),!legacy`) and field selectors
//! (`metadata.name=x,spec.nodeName!=`), parsed and matched as upstream's `labels.Parse` and
//! `fields.ParseSelector` do.

use crate::json::Ptr;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector as ApiLabelSelector;
use serde_json::Value;
use std::collections::BTreeMap;
use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum SelectorError {
    #[error("unable to parse requirement: {0}")]
    Requirement(String),
    #[error("invalid selector: '{0}'; can't understand '{1}'")]
    Field(String, String),
    #[error("found '{0}', expected: {1}")]
    Syntax(String, String),
}

/// An API `LabelSelector` as upstream's `LabelSelectorAsSelector`: `None` matches nothing, an
/// empty selector everything. `Err` for an invalid operator.
pub fn selector_matches(
    sel: Option<&ApiLabelSelector>,
    labels: Option<&BTreeMap<String, String>>,
) -> Result<bool, String> {
    let Some(sel) = sel else { return Ok(false) };
    let empty = BTreeMap::new();
    let labels = labels.unwrap_or(&empty);
    for (k, v) in sel.match_labels.iter().flatten() {
        if labels.get(k) != Some(v) {
            return Ok(false);
        }
    }
    for e in sel.match_expressions.iter().flatten() {
        let values = e.values.as_deref().unwrap_or(&[]);
        let have = labels.get(&e.key);
        let ok = match e.operator.as_str() {
            "In" => have.is_some_and(|h| values.contains(h)),
            "NotIn" => have.is_none_or(|h| !values.contains(h)),
            "Exists" => have.is_some(),
            "DoesNotExist" => have.is_none(),
            op => return Err(format!("{op:?} is not a valid label selector operator")),
        };
        if !ok {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Whether a selector selects nothing or everything (`Nothing` / `Everything` upstream).
pub fn selector_is_empty(sel: Option<&ApiLabelSelector>) -> bool {
    sel.is_none_or(|s| {
        s.match_labels.as_ref().is_none_or(|m| m.is_empty())
            && s.match_expressions.as_ref().is_none_or(|m| m.is_empty())
    })
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    Eq,
    NotEq,
    In,
    NotIn,
    Exists,
    DoesNotExist,
    Gt,
    Lt,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    pub key: String,
    pub op: Op,
    pub values: Vec<String>,
}

impl Requirement {
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        let v = labels.get(&self.key);
        match self.op {
            Op::Eq | Op::In => v.is_some_and(|v| self.values.iter().any(|x| x == v)),
            Op::NotEq | Op::NotIn => !v.is_some_and(|v| self.values.iter().any(|x| x == v)),
            Op::Exists => v.is_some(),
            Op::DoesNotExist => v.is_none(),
            Op::Gt | Op::Lt => {
                let (Some(v), Some(want)) =
                    (v.and_then(|v| v.parse::<i64>().ok()), self.values.first().and_then(|w| w.parse::<i64>().ok()))
                else {
                    return false;
                };
                if self.op == Op::Gt {
                    v > want
                } else {
                    v < want
                }
            }
        }
    }
}

/// A parsed label selector: all requirements must hold. Empty matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelSelector(pub Vec<Requirement>);

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Comma,
    Eq,
    DoubleEq,
    NotEq,
    Not,
    In,
    NotIn,
    Open,
    Close,
    Gt,
    Lt,
}

fn lex(s: &str) -> Result<Vec<Tok>, SelectorError> {
    let mut out = Vec::new();
    let c: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < c.len() {
        let ch = c[i];
        match ch {
            ' ' | '\t' | '\n' | '\r' => i += 1,
            ',' => {
                out.push(Tok::Comma);
                i += 1;
            }
            '(' => {
                out.push(Tok::Open);
                i += 1;
            }
            ')' => {
                out.push(Tok::Close);
                i += 1;
            }
            '>' => {
                out.push(Tok::Gt);
                i += 1;
            }
            '<' => {
                out.push(Tok::Lt);
                i += 1;
            }
            '=' => {
                if c.get(i + 1) == Some(&'=') {
                    out.push(Tok::DoubleEq);
                    i += 2;
                } else {
                    out.push(Tok::Eq);
                    i += 1;
                }
            }
            '!' => {
                if c.get(i + 1) == Some(&'=') {
                    out.push(Tok::NotEq);
                    i += 2;
                } else {
                    out.push(Tok::Not);
                    i += 1;
                }
            }
            _ => {
                let start = i;
                while i < c.len() && !" \t\n\r,()=!<>".contains(c[i]) {
                    i += 1;
                }
                let word: String = c[start..i].iter().collect();
                out.push(match word.as_str() {
                    "in" => Tok::In,
                    "notin" => Tok::NotIn,
                    _ => Tok::Ident(word),
                });
            }
        }
    }
    Ok(out)
}

fn check_key(k: &str) -> Result<(), SelectorError> {
    let errs = crate::meta::is_qualified_name(k);
    if let Some(e) = errs.first() {
        return Err(SelectorError::Requirement(format!("key: Invalid value: {:?}: {e}", k)));
    }
    Ok(())
}

fn check_value(v: &str) -> Result<(), SelectorError> {
    let errs = crate::meta::is_valid_label_value(v);
    if let Some(e) = errs.first() {
        return Err(SelectorError::Requirement(format!("values[0][]: Invalid value: {:?}: {e}", v)));
    }
    Ok(())
}

impl LabelSelector {
    /// A `metav1.LabelSelector` object (`matchLabels` + `matchExpressions`), as upstream's
    /// `LabelSelectorAsSelector`: an empty selector matches everything; an unknown operator or
    /// a missing or superfluous value list is an error.
    pub fn from_api(sel: &Value) -> Result<Self, SelectorError> {
        let mut reqs = Vec::new();
        if let Some(m) = sel.get("matchLabels").and_then(Value::as_object) {
            for (k, v) in m {
                reqs.push(Requirement {
                    key: k.clone(),
                    op: Op::Eq,
                    values: vec![v.as_str().unwrap_or("").to_string()],
                });
            }
        }
        for e in sel.get("matchExpressions").and_then(Value::as_array).into_iter().flatten() {
            let key = e.get("key").and_then(Value::as_str).unwrap_or("").to_string();
            let values: Vec<String> = e
                .get("values")
                .and_then(Value::as_array)
                .map(|a| a.iter().map(|v| v.as_str().unwrap_or("").to_string()).collect())
                .unwrap_or_default();
            let operator = e.get("operator").and_then(Value::as_str).unwrap_or("");
            let op = match operator {
                "In" => Op::In,
                "NotIn" => Op::NotIn,
                "Exists" => Op::Exists,
                "DoesNotExist" => Op::DoesNotExist,
                other => {
                    return Err(SelectorError::Requirement(format!("{other:?} is not a valid label selector operator")))
                }
            };
            let wants_values = matches!(op, Op::In | Op::NotIn);
            if wants_values == values.is_empty() {
                return Err(SelectorError::Requirement(if wants_values {
                    "for 'in', 'notin' operators, values set can't be empty".into()
                } else {
                    "values set must be empty for exists and does not exist".into()
                }));
            }
            reqs.push(Requirement { key, op, values });
        }
        Ok(LabelSelector(reqs))
    }

    pub fn parse(s: &str) -> Result<Self, SelectorError> {
        let toks = lex(s)?;
        let mut reqs = Vec::new();
        let mut i = 0;
        let ident = |t: Option<&Tok>| match t {
            Some(Tok::Ident(s)) => Some(s.clone()),
            _ => None,
        };
        while i < toks.len() {
            if matches!(toks[i], Tok::Not) {
                let key = ident(toks.get(i + 1)).ok_or_else(|| {
                    SelectorError::Syntax(format!("{:?}", toks.get(i + 1)), "identifier after '!'".into())
                })?;
                check_key(&key)?;
                reqs.push(Requirement { key, op: Op::DoesNotExist, values: vec![] });
                i += 2;
            } else {
                let key = ident(toks.get(i))
                    .ok_or_else(|| SelectorError::Syntax(format!("{:?}", toks[i]), "identifier".into()))?;
                check_key(&key)?;
                i += 1;
                match toks.get(i) {
                    None | Some(Tok::Comma) => reqs.push(Requirement { key, op: Op::Exists, values: vec![] }),
                    Some(t @ (Tok::Eq | Tok::DoubleEq | Tok::NotEq | Tok::Gt | Tok::Lt)) => {
                        let op = match t {
                            Tok::Eq | Tok::DoubleEq => Op::Eq,
                            Tok::NotEq => Op::NotEq,
                            Tok::Gt => Op::Gt,
                            _ => Op::Lt,
                        };
                        i += 1;
                        let value = match toks.get(i) {
                            Some(Tok::Ident(v)) => {
                                i += 1;
                                v.clone()
                            }
                            // `key=` selects the empty value.
                            None | Some(Tok::Comma) => String::new(),
                            Some(other) => {
                                return Err(SelectorError::Syntax(format!("{other:?}"), "identifier".into()))
                            }
                        };
                        if matches!(op, Op::Gt | Op::Lt) && value.parse::<i64>().is_err() {
                            return Err(SelectorError::Requirement(format!("values[0]: Invalid value: {value:?}: for 'Gt', 'Lt' operators, the value must be an integer")));
                        }
                        check_value(&value)?;
                        reqs.push(Requirement { key, op, values: vec![value] });
                    }
                    Some(t @ (Tok::In | Tok::NotIn)) => {
                        let op = if *t == Tok::In { Op::In } else { Op::NotIn };
                        i += 1;
                        if toks.get(i) != Some(&Tok::Open) {
                            return Err(SelectorError::Syntax(format!("{:?}", toks.get(i)), "'('".into()));
                        }
                        i += 1;
                        let mut values = Vec::new();
                        loop {
                            match toks.get(i) {
                                Some(Tok::Ident(v)) => {
                                    check_value(v)?;
                                    values.push(v.clone());
                                    i += 1;
                                }
                                Some(Tok::Comma) => {
                                    if values.is_empty() {
                                        values.push(String::new());
                                    }
                                    i += 1;
                                    continue;
                                }
                                Some(Tok::Close) => {
                                    i += 1;
                                    break;
                                }
                                other => return Err(SelectorError::Syntax(format!("{other:?}"), "')'".into())),
                            }
                            match toks.get(i) {
                                Some(Tok::Comma) => i += 1,
                                Some(Tok::Close) => {
                                    i += 1;
                                    break;
                                }
                                other => return Err(SelectorError::Syntax(format!("{other:?}"), "',' or ')'".into())),
                            }
                        }
                        if values.is_empty() {
                            values.push(String::new());
                        }
                        reqs.push(Requirement { key, op, values });
                    }
                    Some(other) => {
                        return Err(SelectorError::Syntax(format!("{other:?}"), "'=', '!=', 'in', 'notin'".into()))
                    }
                }
            }
            match toks.get(i) {
                None => break,
                Some(Tok::Comma) => {
                    i += 1;
                    if i == toks.len() {
                        return Err(SelectorError::Syntax("EOS".into(), "identifier".into()));
                    }
                }
                Some(other) => return Err(SelectorError::Syntax(format!("{other:?}"), "','".into())),
            }
        }
        Ok(LabelSelector(reqs))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.0.iter().all(|r| r.matches(labels))
    }

    /// Matches the `metadata.labels` of a JSON object.
    pub fn matches_object(&self, obj: &Value) -> bool {
        if self.0.is_empty() {
            return true;
        }
        let labels = labels_of(obj);
        self.matches(&labels)
    }
}

pub fn labels_of(obj: &Value) -> BTreeMap<String, String> {
    obj.ptr("/metadata/labels")
        .and_then(Value::as_object)
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string())).collect())
        .unwrap_or_default()
}

/// One `field=value` / `field!=value` term.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldRequirement {
    pub field: String,
    pub value: String,
    pub negated: bool,
}

/// A parsed field selector: all terms must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSelector(pub Vec<FieldRequirement>);

fn split_unescaped(s: &str, sep: char) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut esc = false;
    for ch in s.chars() {
        if esc {
            cur.push('\\');
            cur.push(ch);
            esc = false;
        } else if ch == '\\' {
            esc = true;
        } else if ch == sep {
            out.push(std::mem::take(&mut cur));
        } else {
            cur.push(ch);
        }
    }
    if esc {
        cur.push('\\');
    }
    out.push(cur);
    out
}

fn unescape(s: &str) -> Result<String, SelectorError> {
    let mut out = String::new();
    let mut esc = false;
    for ch in s.chars() {
        if esc {
            if !matches!(ch, '\\' | ',' | '=' | '!') {
                return Err(SelectorError::Field(s.into(), format!("invalid escape sequence: \\{ch}")));
            }
            out.push(ch);
            esc = false;
        } else if ch == '\\' {
            esc = true;
        } else {
            out.push(ch);
        }
    }
    Ok(out)
}

impl FieldSelector {
    pub fn parse(s: &str) -> Result<Self, SelectorError> {
        let mut reqs = Vec::new();
        if s.trim().is_empty() {
            return Ok(FieldSelector(reqs));
        }
        for part in split_unescaped(s, ',') {
            if part.is_empty() {
                continue;
            }
            let (field, value, negated) = if let Some((f, v)) = part.split_once("!=") {
                (f, v, true)
            } else if let Some((f, v)) = part.split_once("==") {
                (f, v, false)
            } else if let Some((f, v)) = part.split_once('=') {
                (f, v, false)
            } else {
                return Err(SelectorError::Field(s.into(), part.clone()));
            };
            reqs.push(FieldRequirement { field: field.trim().to_string(), value: unescape(value)?, negated });
        }
        Ok(FieldSelector(reqs))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Matches against an object's selectable field set.
    pub fn matches(&self, fields: &[(&str, String)]) -> bool {
        self.0.iter().all(|r| {
            let v = fields.iter().find(|(k, _)| *k == r.field).map(|(_, v)| v.as_str()).unwrap_or("");
            (v == r.value) != r.negated
        })
    }

    /// The value a term requires for `field` with `=`, if any (used to narrow lists).
    pub fn required_value(&self, field: &str) -> Option<&str> {
        self.0.iter().find(|r| r.field == field && !r.negated).map(|r| r.value.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

    fn lbls(kv: &[(&str, &str)]) -> BTreeMap<String, String> {
        kv.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn selectors_match_as_upstream() {
        let l = lbls(&[("app", "web"), ("tier", "front")]);
        assert_eq!(selector_matches(None, Some(&l)), Ok(false));
        assert_eq!(selector_matches(Some(&ApiLabelSelector::default()), Some(&l)), Ok(true));
        let s = ApiLabelSelector {
            match_labels: Some(lbls(&[("app", "web")])),
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "tier".into(),
                operator: "In".into(),
                values: Some(vec!["front".into(), "back".into()]),
            }]),
        };
        assert_eq!(selector_matches(Some(&s), Some(&l)), Ok(true));
        assert_eq!(selector_matches(Some(&s), Some(&lbls(&[("app", "web")]))), Ok(false));
        let bad = ApiLabelSelector {
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "a".into(),
                operator: "Near".into(),
                values: None,
            }]),
            ..Default::default()
        };
        assert!(selector_matches(Some(&bad), Some(&l)).is_err());
    }

    fn l(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn label_ops() {
        let s = LabelSelector::parse("app=web,tier in (fe, be),!legacy,env!=prod,zone").unwrap();
        assert_eq!(s.0.len(), 5);
        assert!(s.matches(&l(&[("app", "web"), ("tier", "fe"), ("zone", "a")])));
        assert!(!s.matches(&l(&[("app", "web"), ("tier", "fe"), ("zone", "a"), ("legacy", "")])));
        assert!(!s.matches(&l(&[("app", "web"), ("tier", "db"), ("zone", "a")])));
        let s = LabelSelector::parse("a==b,c notin (d)").unwrap();
        assert!(s.matches(&l(&[("a", "b")])));
        assert!(LabelSelector::parse("").unwrap().is_empty());
        assert!(LabelSelector::parse("a in b").is_err());
        assert!(LabelSelector::parse("a=b,").is_err());
        assert!(LabelSelector::parse("a b").is_err());
        let s = LabelSelector::parse("n>3").unwrap();
        assert!(s.matches(&l(&[("n", "4")])) && !s.matches(&l(&[("n", "3")])));
    }

    #[test]
    fn field_ops() {
        let s = FieldSelector::parse("metadata.name=a\\,b,spec.nodeName!=").unwrap();
        assert_eq!(s.0[0].value, "a,b");
        assert!(s.matches(&[("metadata.name", "a,b".into()), ("spec.nodeName", "n1".into())]));
        assert!(!s.matches(&[("metadata.name", "a,b".into())]));
        assert!(FieldSelector::parse("bogus").is_err());
        assert_eq!(s.required_value("metadata.name"), Some("a,b"));
    }
}
