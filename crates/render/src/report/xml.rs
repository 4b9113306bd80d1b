//! The report as XML: the JSON model's members as elements of the same names and in the
//! same order (arrays as repeated `<row>`, sales as `<sale>`, nulls left out), under
//! `<salesReport>`. A small serde serializer writes the elements straight from the
//! model's structs, so the members keep their declaration order (a `serde_json::Value`
//! would sort them) and no tree is built per sale.

use super::SalesWriter;
use comptoir_core::report::{Report, SaleRow};
use serde::Serialize;
use serde::ser::{self, Impossible};
use std::fmt;
use std::io::Write as _;

pub(super) struct XmlReport {
    digits: u8,
    tz: jiff::tz::TimeZone,
}

/// Escapes text for element content.
fn push_text(out: &mut Vec<u8>, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.extend_from_slice(b"&amp;"),
            '<' => out.extend_from_slice(b"&lt;"),
            '>' => out.extend_from_slice(b"&gt;"),
            // XML 1.0 cannot hold other control characters, even escaped.
            c if c.is_control() && !matches!(c, '\t' | '\n' | '\r') => out.push(b' '),
            c => {
                let mut b = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
            }
        }
    }
}

/// What the serializer refuses: kinds of value the report's model does not hold.
#[derive(Debug)]
struct XmlError(String);

impl fmt::Display for XmlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for XmlError {}

impl ser::Error for XmlError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        XmlError(msg.to_string())
    }
}

/// serde_json's `arbitrary_precision` serializes a `Number` (the report's amounts, rates
/// and quantities) as a struct of this name holding the number's text.
const NUMBER_TOKEN: &str = "$serde_json::private::Number";

/// Writes one value as the element `name` (nothing for a null).
struct Element<'o> {
    out: &'o mut Vec<u8>,
    name: &'static str,
    /// The struct's fields without an element around them (the report's top level,
    /// whose element stays open for the sales).
    bare: bool,
}

impl Element<'_> {
    fn open(&mut self) {
        self.out.push(b'<');
        self.out.extend_from_slice(self.name.as_bytes());
        self.out.push(b'>');
    }

    fn close(out: &mut Vec<u8>, name: &str) {
        out.extend_from_slice(b"</");
        out.extend_from_slice(name.as_bytes());
        out.push(b'>');
    }

    /// `<name>text</name>`, the text written as is (numbers, booleans).
    fn raw(mut self, text: &[u8]) -> Result<(), XmlError> {
        self.open();
        self.out.extend_from_slice(text);
        Element::close(self.out, self.name);
        Ok(())
    }

    fn int(self, v: impl fmt::Display) -> Result<(), XmlError> {
        let mut b = Vec::with_capacity(20);
        let _ = write!(b, "{v}");
        self.raw(&b)
    }
}

fn unsupported(what: &str) -> XmlError {
    XmlError(format!("the XML report cannot hold {what}"))
}

/// The members of a struct, each an element; or the digits of a serde_json `Number`.
struct Members<'o> {
    out: &'o mut Vec<u8>,
    name: &'static str,
    bare: bool,
    number: bool,
}

impl ser::SerializeStruct for Members<'_> {
    type Ok = ();
    type Error = XmlError;

    fn serialize_field<T: ?Sized + Serialize>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), XmlError> {
        if self.number {
            // The number's text, inside the element opened for it.
            return value.serialize(Digits { out: self.out });
        }
        value.serialize(Element {
            out: self.out,
            name: key,
            bare: false,
        })
    }

    fn end(self) -> Result<(), XmlError> {
        if !self.bare {
            Element::close(self.out, self.name);
        }
        Ok(())
    }
}

/// The items of an array, each a `<row>`.
struct Rows<'o> {
    out: &'o mut Vec<u8>,
    name: &'static str,
}

impl ser::SerializeSeq for Rows<'_> {
    type Ok = ();
    type Error = XmlError;

    fn serialize_element<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), XmlError> {
        value.serialize(Element {
            out: self.out,
            name: "row",
            bare: false,
        })
    }

    fn end(self) -> Result<(), XmlError> {
        Element::close(self.out, self.name);
        Ok(())
    }
}

/// A number's text (the one field of serde_json's `Number` struct).
struct Digits<'o> {
    out: &'o mut Vec<u8>,
}

macro_rules! refuse {
    ($($f:ident: $t:ty),*) => {
        $(fn $f(self, _: $t) -> Result<(), XmlError> {
            Err(unsupported(stringify!($t)))
        })*
    };
}

impl ser::Serializer for Digits<'_> {
    type Ok = ();
    type Error = XmlError;
    type SerializeSeq = Impossible<(), XmlError>;
    type SerializeTuple = Impossible<(), XmlError>;
    type SerializeTupleStruct = Impossible<(), XmlError>;
    type SerializeTupleVariant = Impossible<(), XmlError>;
    type SerializeMap = Impossible<(), XmlError>;
    type SerializeStruct = Impossible<(), XmlError>;
    type SerializeStructVariant = Impossible<(), XmlError>;

    fn serialize_str(self, v: &str) -> Result<(), XmlError> {
        // Digits, a sign, a point and an exponent: nothing to escape, but escaped all the same.
        push_text(self.out, v);
        Ok(())
    }

    refuse!(serialize_bool: bool, serialize_i8: i8, serialize_i16: i16, serialize_i32: i32,
        serialize_i64: i64, serialize_u8: u8, serialize_u16: u16, serialize_u32: u32,
        serialize_u64: u64, serialize_f32: f32, serialize_f64: f64, serialize_char: char,
        serialize_bytes: &[u8], serialize_unit_struct: &'static str);

    fn serialize_none(self) -> Result<(), XmlError> {
        Err(unsupported("a null number"))
    }
    fn serialize_some<T: ?Sized + Serialize>(self, _: &T) -> Result<(), XmlError> {
        Err(unsupported("an optional number"))
    }
    fn serialize_unit(self) -> Result<(), XmlError> {
        Err(unsupported("a unit"))
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
    ) -> Result<(), XmlError> {
        Err(unsupported("an enum"))
    }
    fn serialize_newtype_struct<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        _: &T,
    ) -> Result<(), XmlError> {
        Err(unsupported("a newtype"))
    }
    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<(), XmlError> {
        Err(unsupported("an enum"))
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, XmlError> {
        Err(unsupported("an array"))
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, XmlError> {
        Err(unsupported("a tuple"))
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, XmlError> {
        Err(unsupported("a tuple"))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, XmlError> {
        Err(unsupported("an enum"))
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, XmlError> {
        Err(unsupported("a map"))
    }
    fn serialize_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStruct, XmlError> {
        Err(unsupported("a struct"))
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, XmlError> {
        Err(unsupported("an enum"))
    }
}

impl<'o> ser::Serializer for Element<'o> {
    type Ok = ();
    type Error = XmlError;
    type SerializeSeq = Rows<'o>;
    type SerializeTuple = Impossible<(), XmlError>;
    type SerializeTupleStruct = Impossible<(), XmlError>;
    type SerializeTupleVariant = Impossible<(), XmlError>;
    type SerializeMap = Impossible<(), XmlError>;
    type SerializeStruct = Members<'o>;
    type SerializeStructVariant = Impossible<(), XmlError>;

    fn serialize_bool(self, v: bool) -> Result<(), XmlError> {
        self.raw(if v { b"true" } else { b"false" })
    }
    fn serialize_i8(self, v: i8) -> Result<(), XmlError> {
        self.int(v)
    }
    fn serialize_i16(self, v: i16) -> Result<(), XmlError> {
        self.int(v)
    }
    fn serialize_i32(self, v: i32) -> Result<(), XmlError> {
        self.int(v)
    }
    fn serialize_i64(self, v: i64) -> Result<(), XmlError> {
        self.int(v)
    }
    fn serialize_u8(self, v: u8) -> Result<(), XmlError> {
        self.int(v)
    }
    fn serialize_u16(self, v: u16) -> Result<(), XmlError> {
        self.int(v)
    }
    fn serialize_u32(self, v: u32) -> Result<(), XmlError> {
        self.int(v)
    }
    fn serialize_u64(self, v: u64) -> Result<(), XmlError> {
        self.int(v)
    }
    fn serialize_f32(self, _: f32) -> Result<(), XmlError> {
        // Floats would print differently from JSON's; the model's numbers are exact.
        Err(unsupported("a float"))
    }
    fn serialize_f64(self, _: f64) -> Result<(), XmlError> {
        Err(unsupported("a float"))
    }
    fn serialize_char(mut self, v: char) -> Result<(), XmlError> {
        self.open();
        push_text(self.out, v.encode_utf8(&mut [0u8; 4]));
        Element::close(self.out, self.name);
        Ok(())
    }
    fn serialize_str(mut self, v: &str) -> Result<(), XmlError> {
        self.open();
        push_text(self.out, v);
        Element::close(self.out, self.name);
        Ok(())
    }
    fn serialize_bytes(self, _: &[u8]) -> Result<(), XmlError> {
        Err(unsupported("bytes"))
    }
    fn serialize_none(self) -> Result<(), XmlError> {
        // A null is left out.
        Ok(())
    }
    fn serialize_some<T: ?Sized + Serialize>(self, v: &T) -> Result<(), XmlError> {
        v.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), XmlError> {
        Ok(())
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<(), XmlError> {
        Ok(())
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<(), XmlError> {
        self.serialize_str(variant)
    }
    fn serialize_newtype_struct<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        v: &T,
    ) -> Result<(), XmlError> {
        v.serialize(self)
    }
    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<(), XmlError> {
        Err(unsupported("an enum"))
    }
    fn serialize_seq(mut self, _: Option<usize>) -> Result<Rows<'o>, XmlError> {
        self.open();
        Ok(Rows {
            out: self.out,
            name: self.name,
        })
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, XmlError> {
        Err(unsupported("a tuple"))
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, XmlError> {
        Err(unsupported("a tuple"))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, XmlError> {
        Err(unsupported("an enum"))
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, XmlError> {
        Err(unsupported("a map"))
    }
    fn serialize_struct(mut self, name: &'static str, _: usize) -> Result<Members<'o>, XmlError> {
        let number = name == NUMBER_TOKEN;
        if !self.bare {
            self.open();
        }
        Ok(Members {
            out: self.out,
            name: self.name,
            bare: self.bare,
            number,
        })
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, XmlError> {
        Err(unsupported("an enum"))
    }
}

impl XmlReport {
    pub(super) fn begin(r: &Report, out: &mut Vec<u8>) -> Result<XmlReport, String> {
        out.extend_from_slice(b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<salesReport>");
        r.serialize(Element {
            out: &mut *out,
            name: "salesReport",
            bare: true,
        })
        .map_err(|e| e.to_string())?;
        out.extend_from_slice(b"\n<sales>");
        Ok(XmlReport {
            digits: r.digits,
            tz: jiff::tz::TimeZone::get(&r.time_zone).unwrap_or(jiff::tz::TimeZone::UTC),
        })
    }
}

impl SalesWriter for XmlReport {
    fn sale(&mut self, s: &SaleRow, out: &mut Vec<u8>) {
        out.push(b'\n');
        // A view of plain strings and numbers, which the serializer always takes.
        let _ = s.view(self.digits, &self.tz).serialize(Element {
            out,
            name: "sale",
            bare: false,
        });
    }

    fn finish(self: Box<Self>, out: &mut Vec<u8>) -> Result<(), String> {
        out.extend_from_slice(b"</sales>\n</salesReport>\n");
        Ok(())
    }
}
