namespace Cinnabar.Server.Storage;

/// <summary>
/// A point-in-time copy of the keyspace, taken while the server keeps serving writes: what fork() and the
/// kernel's copy-on-write give Redis for BGSAVE, BGREWRITEAOF and full resynchronisation.
///
/// .NET has no fork, and copying the whole dataset up front would double its memory. Instead the copy is
/// made key by key, on the event-loop thread that owns the keyspace: <see cref="Step"/> walks the tables'
/// entry arrays in slices between client work, and any access that could change an entry not yet copied
/// (every lookup through <see cref="Db.Find"/>, every removal) copies it first. Entries added after the start
/// are born marked as copied. Each entry is therefore handed to the sink exactly once, as it was at the
/// moment the snapshot began. A table replaced meanwhile (FLUSHDB builds a new one) is simply left to the
/// snapshot, which finishes it untouched; SWAPDB moves tables, and each keeps the db number it had.
///
/// The sink receives keys in no particular db order (a copy forced by a write to db 3 can come while db 0 is
/// being walked); RDB allows that with a SELECTDB before each switch.
/// </summary>
public sealed class KeyspaceSnapshot
{
    public interface ISink
    {
        /// <summary>One key as it was at the start; called once per key, on the event-loop thread.</summary>
        void Save(int dbId, in KeyTable.Entry entry);
    }

    readonly KeyTable[] tables;
    readonly int[] dbIds;
    readonly ISink sink;
    int tableIndex;
    int cursor;

    /// <summary>Keys and keys-with-TTL per db at the start (RDB's RESIZEDB hints), indexed by db id.</summary>
    public readonly (int keys, int expires)[] Sizes;

    public long KeysSaved { get; private set; }
    public bool Done => tableIndex == tables.Length;

    public KeyspaceSnapshot(Db[] dbs, ISink sink)
    {
        this.sink = sink;
        tables = new KeyTable[dbs.Length];
        dbIds = new int[dbs.Length];
        Sizes = new (int, int)[dbs.Length];
        for (int i = 0; i < dbs.Length; i++)
        {
            var table = dbs[i].Table;
            if (table.Snapshot != null) throw new InvalidOperationException("a snapshot of this keyspace is already being taken");
            tables[i] = table;
            dbIds[i] = dbs[i].Id;
            Sizes[dbs[i].Id] = (table.Count, table.VolatileCount);
            table.Mark = !table.Mark;   // every entry is now "not yet copied"
            table.Snapshot = this;
        }
    }

    /// <summary>Copies an entry about to be looked at or removed, unless the snapshot already has it.</summary>
    public void SaveBeforeChange(KeyTable table, int index)
    {
        ref var e = ref table.At(index);
        if (e.SnapshotMark == table.Mark || e.Key == null) return;
        e.SnapshotMark = table.Mark;
        sink.Save(DbIdOf(table), in e);
        KeysSaved++;
    }

    int DbIdOf(KeyTable table)
    {
        for (int i = 0; i < tables.Length; i++)
            if (tables[i] == table) return dbIds[i];
        throw new InvalidOperationException("table is not part of this snapshot");
    }

    /// <summary>
    /// Copies up to <paramref name="maxEntries"/> more entry slots in walk order; returns true when the whole
    /// keyspace has been copied (and releases the tables).
    /// </summary>
    public bool Step(int maxEntries)
    {
        while (maxEntries > 0 && tableIndex < tables.Length)
        {
            var table = tables[tableIndex];
            int end = Math.Min(table.Used, cursor + maxEntries);
            for (; cursor < end; cursor++, maxEntries--)
            {
                ref var e = ref table.At(cursor);
                if (e.Key == null || e.SnapshotMark == table.Mark) continue;
                e.SnapshotMark = table.Mark;
                sink.Save(dbIds[tableIndex], in e);
                KeysSaved++;
            }
            if (cursor >= table.Used)
            {
                table.Snapshot = null;
                tableIndex++;
                cursor = 0;
            }
        }
        return Done;
    }

    /// <summary>
    /// Stops early (a failed disk, a killed BGSAVE): the remaining entries are marked without being copied,
    /// so the next snapshot starts again from "nothing copied".
    /// </summary>
    public void Abort()
    {
        for (; tableIndex < tables.Length; tableIndex++, cursor = 0)
        {
            var table = tables[tableIndex];
            for (; cursor < table.Used; cursor++) table.At(cursor).SnapshotMark = table.Mark;
            table.Snapshot = null;
        }
    }
}
