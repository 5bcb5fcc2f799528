//! The columns of an archive table, and building them from parsed messages.
//!
//! Each worker appends its messages' values straight into Arrow builders; nothing is
//! converted to an intermediate row. Values are read the way the `Message` accessors read
//! them (the same core functions), so a row says what `load(row.source)` would.

use std::sync::Arc;

use arrow_array::builder::{
    ArrayBuilder, Int32Builder, Int64Builder, ListBuilder, StringBuilder,
    TimestampMicrosecondBuilder,
};
use arrow_array::{ArrayRef, ListArray, RecordBatch, RecordBatchOptions, StructArray};
use arrow_buffer::{OffsetBuffer, ScalarBuffer};
use arrow_schema::{DataType, Field, Fields, Schema, SchemaRef};

use super::source::Found;
use crate::message::{Address, Date, MessageView, Parsed, address, authres, list_headers};

/// One column of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Column {
    MessageId,
    Date,
    DateOffset,
    From,
    To,
    Cc,
    Subject,
    InReplyTo,
    References,
    ListId,
    ContentType,
    Size,
    Parts,
    Attachments,
    AttachmentNames,
    AttachmentTypes,
    Hops,
    FirstHop,
    LastHop,
    Spf,
    Dkim,
    Dmarc,
    Defects,
    Text,
    Folder,
    Flags,
    Source,
}

impl Column {
    /// Every column, in table order.
    pub const ALL: [Column; 27] = [
        Column::MessageId,
        Column::Date,
        Column::DateOffset,
        Column::From,
        Column::To,
        Column::Cc,
        Column::Subject,
        Column::InReplyTo,
        Column::References,
        Column::ListId,
        Column::ContentType,
        Column::Size,
        Column::Parts,
        Column::Attachments,
        Column::AttachmentNames,
        Column::AttachmentTypes,
        Column::Hops,
        Column::FirstHop,
        Column::LastHop,
        Column::Spf,
        Column::Dkim,
        Column::Dmarc,
        Column::Defects,
        Column::Text,
        Column::Folder,
        Column::Flags,
        Column::Source,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Column::MessageId => "message_id",
            Column::Date => "date",
            Column::DateOffset => "date_offset",
            Column::From => "from",
            Column::To => "to",
            Column::Cc => "cc",
            Column::Subject => "subject",
            Column::InReplyTo => "in_reply_to",
            Column::References => "references",
            Column::ListId => "list_id",
            Column::ContentType => "content_type",
            Column::Size => "size",
            Column::Parts => "parts",
            Column::Attachments => "attachments",
            Column::AttachmentNames => "attachment_names",
            Column::AttachmentTypes => "attachment_types",
            Column::Hops => "hops",
            Column::FirstHop => "first_hop",
            Column::LastHop => "last_hop",
            Column::Spf => "spf",
            Column::Dkim => "dkim",
            Column::Dmarc => "dmarc",
            Column::Defects => "defects",
            Column::Text => "text",
            Column::Folder => "folder",
            Column::Flags => "flags",
            Column::Source => "source",
        }
    }

    pub fn from_name(name: &str) -> Option<Column> {
        Column::ALL.into_iter().find(|c| c.name() == name)
    }
}

/// A selection of columns, in the order they appear in the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Columns(Vec<Column>);

impl Columns {
    /// Every column but `text` (decoding every body costs more than all the rest).
    pub fn default_set() -> Columns {
        Columns(
            Column::ALL
                .into_iter()
                .filter(|c| *c != Column::Text)
                .collect(),
        )
    }

    /// These columns, in this order (duplicates dropped).
    pub fn new(list: impl IntoIterator<Item = Column>) -> Columns {
        let mut v: Vec<Column> = Vec::new();
        for c in list {
            if !v.contains(&c) {
                v.push(c);
            }
        }
        Columns(v)
    }

    pub fn list(&self) -> &[Column] {
        &self.0
    }

    /// The Arrow schema of the batches.
    pub fn schema(&self) -> SchemaRef {
        Batch::new(self, 0).finish().schema()
    }
}

fn address_fields() -> Fields {
    Fields::from(vec![
        Field::new("name", DataType::Utf8, false),
        Field::new("email", DataType::Utf8, false),
    ])
}

/// `list<struct<name, email>>`, built from its flat children.
#[derive(Default)]
struct Addresses {
    names: StringBuilder,
    emails: StringBuilder,
    offsets: Vec<i32>,
}

impl Addresses {
    fn push(&mut self, list: &[crate::message::Address]) {
        if self.offsets.is_empty() {
            self.offsets.push(0);
        }
        for a in list {
            self.names.append_value(&a.name);
            self.emails.append_value(&a.email);
        }
        self.offsets.push(self.names.len() as i32);
    }

    fn finish(&mut self) -> ArrayRef {
        if self.offsets.is_empty() {
            self.offsets.push(0);
        }
        let values = StructArray::new(
            address_fields(),
            vec![
                Arc::new(self.names.finish()) as ArrayRef,
                Arc::new(self.emails.finish()),
            ],
            None,
        );
        let item = Field::new("item", DataType::Struct(address_fields()), false);
        let offsets = OffsetBuffer::new(ScalarBuffer::from(std::mem::take(&mut self.offsets)));
        Arc::new(ListArray::new(
            Arc::new(item),
            offsets,
            Arc::new(values),
            None,
        ))
    }
}

fn string_list() -> ListBuilder<StringBuilder> {
    ListBuilder::new(StringBuilder::new()).with_field(Field::new("item", DataType::Utf8, true))
}

/// `struct<path, format, offset, length>`.
#[derive(Default)]
struct Sources {
    path: StringBuilder,
    format: StringBuilder,
    offset: Int64Builder,
    length: Int64Builder,
}

impl Sources {
    fn finish(&mut self) -> ArrayRef {
        let fields = Fields::from(vec![
            Field::new("path", DataType::Utf8, false),
            Field::new("format", DataType::Utf8, false),
            Field::new("offset", DataType::Int64, false),
            Field::new("length", DataType::Int64, false),
        ]);
        Arc::new(StructArray::new(
            fields,
            vec![
                Arc::new(self.path.finish()) as ArrayRef,
                Arc::new(self.format.finish()),
                Arc::new(self.offset.finish()),
                Arc::new(self.length.finish()),
            ],
            None,
        ))
    }
}

enum Builder {
    Str(StringBuilder),
    I32(Int32Builder),
    I64(Int64Builder),
    Time(TimestampMicrosecondBuilder),
    Addresses(Addresses),
    Strings(ListBuilder<StringBuilder>),
    Source(Sources),
}

impl Builder {
    fn new(c: Column) -> Builder {
        match c {
            Column::Date | Column::FirstHop | Column::LastHop => {
                Builder::Time(TimestampMicrosecondBuilder::new().with_timezone("UTC"))
            }
            Column::DateOffset | Column::Parts | Column::Attachments | Column::Hops => {
                Builder::I32(Int32Builder::new())
            }
            Column::Size => Builder::I64(Int64Builder::new()),
            Column::From | Column::To | Column::Cc => Builder::Addresses(Addresses::default()),
            Column::References
            | Column::AttachmentNames
            | Column::AttachmentTypes
            | Column::Defects => Builder::Strings(string_list()),
            Column::Source => Builder::Source(Sources::default()),
            _ => Builder::Str(StringBuilder::new()),
        }
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            Builder::Str(b) => Arc::new(b.finish()),
            Builder::I32(b) => Arc::new(b.finish()),
            Builder::I64(b) => Arc::new(b.finish()),
            Builder::Time(b) => Arc::new(b.finish()),
            Builder::Addresses(b) => b.finish(),
            Builder::Strings(b) => Arc::new(b.finish()),
            Builder::Source(b) => b.finish(),
        }
    }
}

/// Microseconds since the epoch (UTC) of a date; a leap second reads as :59, as the stdlib
/// reads it.
pub fn epoch_micros(d: &Date) -> i64 {
    let stdlib_second = Date {
        second: d.second.min(59),
        ..*d
    };
    stdlib_second.timestamp() * 1_000_000
}

/// The date of a Received field: what follows its last `;` outside comments, quotes,
/// `<paths>` and `[literals]` (RFC 5321 §4.4), as `received::parse` finds it, without
/// reading the rest of the field.
pub fn hop_date(value: &[u8]) -> Option<Date> {
    let (mut depth, mut quoted, mut escaped) = (0usize, false, false);
    let mut close: Option<u8> = None;
    let mut last = None;
    for (i, &b) in value.iter().enumerate() {
        if escaped {
            escaped = false;
            continue;
        }
        match b {
            b'\\' if quoted || depth > 0 => escaped = true,
            _ if close == Some(b) => close = None,
            _ if close.is_some() => {}
            b'"' if depth == 0 => quoted = !quoted,
            _ if quoted => {}
            b'(' => depth += 1,
            b')' => depth = depth.saturating_sub(1),
            _ if depth > 0 => {}
            b'<' => close = Some(b'>'),
            b'[' => close = Some(b']'),
            b';' => last = Some(i),
            _ => {}
        }
    }
    crate::message::date::parse(value.get(last? + 1..)?)
}

/// Values several columns share, computed once per message when first needed.
struct Row<'d> {
    view: MessageView<'d>,
    structure: Option<crate::message::BodyStructure>,
    /// Received fields, and the oldest and newest hop times.
    hops: Option<(i32, Option<i64>, Option<i64>)>,
    date: Option<Option<Date>>,
    auth: Option<[Option<String>; 3]>,
    /// From, To and Cc read with `parse_list_checked` (`None` inside: no such field); the
    /// defects column reuses them.
    addresses: [Option<Option<Checked>>; 3],
}

/// A list of addresses, and whether it needed a repair (`address::parse_list_checked`).
type Checked = (Vec<Address>, bool);

const ADDRESS_FIELDS: [&str; 3] = ["From", "To", "Cc"];

impl<'d> Row<'d> {
    /// A row of `view`, nothing read yet.
    fn new(view: MessageView<'d>) -> Self {
        Row {
            view,
            structure: None,
            hops: None,
            date: None,
            auth: None,
            addresses: [None, None, None],
        }
    }

    fn structure(&mut self) -> &crate::message::BodyStructure {
        let view = self.view;
        self.structure.get_or_insert_with(|| view.body_structure())
    }

    fn hops(&mut self) -> (i32, Option<i64>, Option<i64>) {
        let view = self.view;
        *self.hops.get_or_insert_with(|| {
            let (mut n, mut first, mut last) = (0, None, None);
            // Newest first: the first date seen is the last hop's, the final one the first's.
            for f in view.fields().filter(|f| f.is("Received")) {
                n += 1;
                if let Some(t) = hop_date(f.value_eol).as_ref().map(epoch_micros) {
                    last.get_or_insert(t);
                    first = Some(t);
                }
            }
            (n, first, last)
        })
    }

    fn date(&mut self) -> Option<Date> {
        let view = self.view;
        *self.date.get_or_insert_with(|| view.date())
    }

    /// The addresses of the first From (0), To (1) or Cc (2) field, as `view.addresses`
    /// reads them, and whether the list needed a repair.
    fn addresses(&mut self, i: usize) -> Option<&Checked> {
        let view = self.view;
        self.addresses[i]
            .get_or_insert_with(|| {
                view.field(ADDRESS_FIELDS[i])
                    .map(|f| address::parse_list_checked(f.value_eol))
            })
            .as_ref()
    }

    fn address_list(&mut self, i: usize) -> &[Address] {
        self.addresses(i).map_or(&[], |(list, _)| &list[..])
    }

    /// `view.defects()`, reusing the Date and address fields already read.
    fn defects(&mut self) -> Vec<crate::message::Defect> {
        let date = self.date();
        for i in 0..3 {
            self.addresses(i);
        }
        let known = |i: usize| {
            self.addresses[i]
                .as_ref()
                .and_then(|a| a.as_ref())
                .map(|(list, repaired)| (&list[..], *repaired))
        };
        let parsed = Parsed {
            date: Some(date),
            from: known(0),
            to: known(1),
            cc: known(2),
        };
        self.view.defects_with(&parsed)
    }

    /// The spf, dkim and dmarc results: the first of each method in the Authentication-Results
    /// fields, newest field first (the receiving server's own verdict wins over upstream
    /// ones), as `to_dataframe` reads them.
    fn auth(&mut self) -> &[Option<String>; 3] {
        let view = self.view;
        self.auth.get_or_insert_with(|| {
            let mut out: [Option<String>; 3] = [None, None, None];
            for f in view.fields().filter(|f| f.is("Authentication-Results")) {
                for r in authres::parse(&f.unfolded()).results {
                    let i = match r.method.as_str() {
                        "spf" => 0,
                        "dkim" => 1,
                        "dmarc" => 2,
                        _ => continue,
                    };
                    if out[i].is_none() {
                        out[i] = Some(r.result);
                    }
                }
            }
            out
        })
    }

    /// The plain-text body as `Message.text` gives it.
    fn text(&mut self) -> Option<String> {
        let view = self.view;
        let ids = self.structure().text.clone();
        let mut joined: Option<String> = None;
        for id in ids {
            let part = crate::message::PartView {
                tree: view.tree,
                id,
            };
            if part.mime_type_pair() != ("text".to_string(), "plain".to_string()) {
                continue;
            }
            let Some(t) = part.text() else { continue };
            let s = joined.get_or_insert_with(String::new);
            // Inline parts read one after another; each starts on a line of its own.
            if !s.is_empty() && !s.ends_with('\n') {
                s.push('\n');
            }
            s.push_str(&t);
        }
        joined
    }
}

/// One record batch being built.
pub struct Batch {
    columns: Vec<(Column, Builder)>,
    rows: usize,
}

impl Batch {
    pub fn new(columns: &Columns, _capacity: usize) -> Batch {
        Batch {
            columns: columns
                .list()
                .iter()
                .map(|&c| (c, Builder::new(c)))
                .collect(),
            rows: 0,
        }
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Parse a found message and append its row.
    pub fn push(&mut self, found: Found<'_>) {
        // Parsed where the bytes lie (a reused read buffer, a shared mbox chunk): the tree
        // lives only as long as the row takes to build.
        let tree = crate::message::parse::build(found.bytes);
        let view = MessageView { tree: &tree, id: 0 };
        let mut row = Row::new(view);
        for (col, builder) in self.columns.iter_mut() {
            match (col, builder) {
                (Column::MessageId, Builder::Str(b)) => b.append_option(view.message_id()),
                (Column::Date, Builder::Time(b)) => {
                    b.append_option(row.date().map(|d| epoch_micros(&d)))
                }
                (Column::DateOffset, Builder::I32(b)) => {
                    b.append_option(row.date().map(|d| d.offset))
                }
                (Column::From, Builder::Addresses(b)) => b.push(row.address_list(0)),
                (Column::To, Builder::Addresses(b)) => b.push(row.address_list(1)),
                (Column::Cc, Builder::Addresses(b)) => b.push(row.address_list(2)),
                (Column::Subject, Builder::Str(b)) => b.append_option(view.subject()),
                (Column::InReplyTo, Builder::Str(b)) => {
                    b.append_option(view.ids("In-Reply-To").into_iter().next())
                }
                (Column::References, Builder::Strings(b)) => {
                    for id in view.ids("References") {
                        b.values().append_value(id);
                    }
                    b.append(true);
                }
                (Column::ListId, Builder::Str(b)) => b.append_option(
                    view.field("List-Id")
                        .and_then(|f| list_headers::parse_list_id(&f.decoded()).id),
                ),
                (Column::ContentType, Builder::Str(b)) => b.append_value(view.root().mime_type()),
                (Column::Size, Builder::I64(b)) => b.append_value(view.bytes().len() as i64),
                (Column::Parts, Builder::I32(b)) => {
                    let tree = view.tree;
                    let leaves = view
                        .walk()
                        // Leaves, as the stdlib's walk() has them: neither multiparts nor
                        // the message/rfc822 parts whose message is walked into.
                        .filter(|&id| {
                            matches!(tree.parts[id as usize].body, crate::message::Body::Leaf)
                        })
                        .count();
                    b.append_value(leaves as i32);
                }
                (Column::Attachments, Builder::I32(b)) => {
                    b.append_value(row.structure().attachments.len() as i32)
                }
                (Column::AttachmentNames, Builder::Strings(b)) => {
                    let tree = view.tree;
                    for &id in &row.structure().attachments {
                        let part = crate::message::PartView { tree, id };
                        b.values().append_option(part.filename());
                    }
                    b.append(true);
                }
                (Column::AttachmentTypes, Builder::Strings(b)) => {
                    let tree = view.tree;
                    for &id in &row.structure().attachments {
                        let part = crate::message::PartView { tree, id };
                        b.values().append_value(part.mime_type());
                    }
                    b.append(true);
                }
                (Column::Hops, Builder::I32(b)) => b.append_value(row.hops().0),
                (Column::FirstHop, Builder::Time(b)) => b.append_option(row.hops().1),
                (Column::LastHop, Builder::Time(b)) => b.append_option(row.hops().2),
                (Column::Spf, Builder::Str(b)) => b.append_option(row.auth()[0].clone()),
                (Column::Dkim, Builder::Str(b)) => b.append_option(row.auth()[1].clone()),
                (Column::Dmarc, Builder::Str(b)) => b.append_option(row.auth()[2].clone()),
                (Column::Defects, Builder::Strings(b)) => {
                    for d in row.defects() {
                        b.values().append_value(d.kind.as_str());
                    }
                    if found.truncated {
                        b.values().append_value("truncated");
                    }
                    b.append(true);
                }
                (Column::Text, Builder::Str(b)) => b.append_option(row.text()),
                (Column::Folder, Builder::Str(b)) => b.append_option(found.folder),
                (Column::Flags, Builder::Str(b)) => b.append_option(found.flags),
                (Column::Source, Builder::Source(s)) => {
                    s.path.append_value(found.path);
                    s.format.append_value(found.format.as_str());
                    s.offset.append_value(found.offset as i64);
                    s.length.append_value(found.length as i64);
                }
                _ => {} // ok: `Builder::new` makes each column's builder
            }
        }
        self.rows += 1;
    }

    /// The batch so far (the builders start again empty).
    pub fn finish(&mut self) -> RecordBatch {
        let mut fields = Vec::with_capacity(self.columns.len());
        let mut arrays = Vec::with_capacity(self.columns.len());
        for (c, b) in self.columns.iter_mut() {
            let a = b.finish();
            let nullable = !matches!(
                c,
                Column::From
                    | Column::To
                    | Column::Cc
                    | Column::References
                    | Column::ContentType
                    | Column::Size
                    | Column::Parts
                    | Column::Attachments
                    | Column::AttachmentNames
                    | Column::AttachmentTypes
                    | Column::Hops
                    | Column::Defects
                    | Column::Source
            );
            fields.push(Field::new(c.name(), a.data_type().clone(), nullable));
            arrays.push(a);
        }
        let rows = std::mem::take(&mut self.rows);
        let options = RecordBatchOptions::new().with_row_count(Some(rows));
        // ok: every array has `rows` entries and the type its field was made from.
        RecordBatch::try_new_with_options(Arc::new(Schema::new(fields)), arrays, &options)
            .unwrap_or_else(|_| RecordBatch::new_empty(Arc::new(Schema::empty())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::source::Format;
    use arrow_array::Array;

    fn found(data: &[u8]) -> Found<'_> {
        Found {
            bytes: data,
            path: "/tmp/x",
            format: Format::Eml,
            offset: 0,
            length: data.len() as u64,
            folder: None,
            flags: None,
            truncated: false,
        }
    }

    #[test]
    fn hop_dates_as_the_received_reader_finds_them() {
        for v in [
            "from a (b [1.2.3.4]) by c with ESMTP id X; Mon, 8 Mar 2010 19:55:06 -0600",
            "from a by b; Mon, 8 Mar 2010 19:55:06 -0600 (CST; a comment)",
            "from a by b for <x;y@z>; 8 Mar 2010 19:55:06 +0000",
            "from a by b \"q;uoted\"",
            "no date here",
        ] {
            let expected = crate::message::received::parse(v).date;
            assert_eq!(hop_date(v.as_bytes()), expected, "{v}");
        }
    }

    /// The defects column reuses the Date and address parses of the other columns: it must
    /// say what `Message.defects` says, over the corpus and a few hand-made cases.
    #[test]
    fn defects_as_the_message_reads_them() {
        let mut inputs: Vec<Vec<u8>> = vec![
            b"Subject: a\nSubject: b\nDate: x\nDate: Mon, 8 Mar 2010 19:55:06 -0600\n\
From: a b c\nTo: <x>\nCc: ,\nContent-Type: text/plain; charset=nope\n\nbody\n"
                .to_vec(),
            b"To: \"x\" y@z w@v\nMIME-Version: 1.0\nContent-Transfer-Encoding: base64\n\n!!==\n"
                .to_vec(),
            b"Content-Transfer-Encoding: base64\n\nQUJD\r\nRA\n".to_vec(),
            b"".to_vec(),
        ];
        inputs.extend(crate::testing::corpus_messages());
        assert!(inputs.len() > 40, "corpus missing");
        let mut with_defects = 0;
        for data in &inputs {
            let tree = crate::message::parse::build(data);
            let view = MessageView { tree: &tree, id: 0 };
            let expected: Vec<String> = view.defects().iter().map(|d| format!("{d:?}")).collect();
            for columns_first in [false, true] {
                let mut row = Row::new(view);
                if columns_first {
                    row.date();
                    for i in 0..3 {
                        row.address_list(i);
                    }
                }
                let got: Vec<String> = row.defects().iter().map(|d| format!("{d:?}")).collect();
                assert_eq!(got, expected, "{}", String::from_utf8_lossy(data));
            }
            with_defects += usize::from(!expected.is_empty());
        }
        assert!(with_defects > 10);
    }

    #[test]
    fn dates_to_epoch() {
        let d = crate::message::date::parse(b"Mon, 8 Mar 2010 19:55:06 -0600").unwrap();
        assert_eq!(epoch_micros(&d), 1_268_099_706_000_000);
        let d = crate::message::date::parse(b"1 Jan 1970 00:00:00 +0000").unwrap();
        assert_eq!(epoch_micros(&d), 0);
        let d = crate::message::date::parse(b"29 Feb 2024 23:59:60 +0100").unwrap();
        assert_eq!(epoch_micros(&d), 1_709_247_599_000_000);
    }

    #[test]
    fn one_row_per_message_with_every_column() {
        let mut b = Batch::new(&Columns::new(Column::ALL), 2);
        b.push(found(
            b"From: A <a@x.org>\r\nTo: b@y.org, C <c@z.org>\r\nSubject: hi\r\n\
Date: Mon, 8 Mar 2010 19:55:06 -0600\r\nMessage-ID: <1@x>\r\nIn-Reply-To: <0@x>\r\n\
Received: from a by b; Mon, 8 Mar 2010 19:55:09 -0600\r\n\
Received: from c by a; Mon, 8 Mar 2010 19:55:07 -0600\r\n\
Authentication-Results: mx; spf=pass smtp.mailfrom=x.org; dkim=fail\r\n\r\nhello\r\n",
        ));
        b.push(found(b"\xff\xfe garbage"));
        let batch = b.finish();
        assert_eq!(batch.num_rows(), 2);
        assert_eq!(batch.num_columns(), Column::ALL.len());
        assert_eq!(batch.schema(), Columns::new(Column::ALL).schema());
        let col = |n: &str| batch.column_by_name(n).unwrap().clone();
        let subject = col("subject");
        let subject = subject
            .as_any()
            .downcast_ref::<arrow_array::StringArray>()
            .unwrap();
        assert_eq!(subject.value(0), "hi");
        assert!(subject.is_null(1));
        let hops = col("hops");
        let hops = hops
            .as_any()
            .downcast_ref::<arrow_array::Int32Array>()
            .unwrap();
        assert_eq!(hops.values().to_vec(), vec![2, 0]);
        let text = col("text");
        let text = text
            .as_any()
            .downcast_ref::<arrow_array::StringArray>()
            .unwrap();
        assert_eq!(text.value(0), "hello\r\n");
        let defects = col("defects");
        assert!(
            defects
                .as_any()
                .downcast_ref::<ListArray>()
                .unwrap()
                .value_length(1)
                > 0
        );
    }
}
