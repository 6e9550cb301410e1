using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace Cinnabar.Server.Persistence;

/// <summary>
/// Writes an RDB file one piece at a time into a growable buffer that the caller drains (to a file, a
/// replica socket, an AOF base): header and aux fields, function libraries, SELECTDB/RESIZEDB, one key at
/// a time, then EOF and the CRC64 over everything (8 zero bytes with rdbchecksum no). The CRC runs over the
/// bytes as they are drained, so a snapshot can be produced incrementally with bounded memory.
/// </summary>
public sealed class RdbWriter
{
    public readonly ByteBuf Buffer = new(64 * 1024);
    readonly RdbSerializer serializer = new();
    readonly bool checksum;
    ulong crc;
    bool finished;

    public RdbWriter(bool compress = true, bool checksum = true)
    {
        serializer.Compress = compress;
        this.checksum = checksum;
    }

    /// <summary>Bytes written so far and not yet drained.</summary>
    public ReadOnlySpan<byte> Pending => Buffer.Span;

    /// <summary>Hands the pending bytes on (folding them into the checksum) and empties the buffer.</summary>
    public void Drain(Action<ReadOnlySpan<byte>> sink)
    {
        var span = Buffer.Span;
        if (span.Length == 0) return;
        if (checksum && !crcDone) crc = Crc64.Update(crc, span);
        sink(span);
        Buffer.Clear();
    }

    /// <summary>Drains the pending bytes to a stream.</summary>
    public void DrainTo(Stream s) => Drain(span => s.Write(span));

    /// <summary>"REDIS0010" (the magic and version).</summary>
    public void WriteMagic()
    {
        Buffer.Write("REDIS"u8);
        Buffer.Write(Encoding.ASCII.GetBytes(Rdb.Version.ToString("D4")));
    }

    public void WriteAux(string key, ReadOnlySpan<byte> value)
    {
        Buffer.WriteByte(Rdb.OpAux);
        RdbOut.WriteString(Buffer, Encoding.ASCII.GetBytes(key), serializer.Compress);
        RdbOut.WriteString(Buffer, value, serializer.Compress);
    }

    public void WriteAux(string key, string value) => WriteAux(key, Encoding.UTF8.GetBytes(value));

    /// <summary>rdbSaveAuxFieldStrInt: the decimal text, which the string writer turns into an integer encoding.</summary>
    public void WriteAux(string key, long value) => WriteAux(key, Encoding.ASCII.GetBytes(value.ToString(System.Globalization.CultureInfo.InvariantCulture)));

    /// <summary>
    /// rdbSaveInfoAuxFields: redis-ver, redis-bits, ctime, used-mem, the replication fields when given, aof-base.
    /// </summary>
    public void WriteHeader(string version, long usedMem, bool aofBase, ReplicationAux? repl = null, long? ctime = null)
    {
        WriteMagic();
        WriteAux("redis-ver", version);
        WriteAux("redis-bits", 64);
        WriteAux("ctime", ctime ?? DateTimeOffset.UtcNow.ToUnixTimeSeconds());
        WriteAux("used-mem", usedMem);
        if (repl is { } r)
        {
            WriteAux("repl-stream-db", r.StreamDb);
            WriteAux("repl-id", r.ReplId);
            WriteAux("repl-offset", r.Offset);
        }
        WriteAux("aof-base", aofBase ? 1 : 0);
    }

    /// <summary>One function library (FUNCTION2: its full source).</summary>
    public void WriteFunction(ReadOnlySpan<byte> code)
    {
        Buffer.WriteByte(Rdb.OpFunction2);
        RdbOut.WriteString(Buffer, code, serializer.Compress);
    }

    /// <summary>SELECTDB alone: switching back to a db whose RESIZEDB hint was already written.</summary>
    public void WriteSelectDbOnly(int db)
    {
        Buffer.WriteByte(Rdb.OpSelectDb);
        RdbOut.WriteLen(Buffer, (ulong)db);
    }

    public void WriteSelectDb(int db, long keys, long expires)
    {
        Buffer.WriteByte(Rdb.OpSelectDb);
        RdbOut.WriteLen(Buffer, (ulong)db);
        Buffer.WriteByte(Rdb.OpResizeDb);
        RdbOut.WriteLen(Buffer, (ulong)keys);
        RdbOut.WriteLen(Buffer, (ulong)expires);
    }

    /// <summary>
    /// rdbSaveKeyValuePair: [EXPIRETIME_MS], [IDLE seconds] or [FREQ counter] (pass -1 to omit), then the type,
    /// key and value.
    /// </summary>
    public void WriteKey(ReadOnlySpan<byte> key, object value, long expireMs, long idleSeconds = -1, int freq = -1)
    {
        if (expireMs > 0)
        {
            Buffer.WriteByte(Rdb.OpExpireTimeMs);
            RdbOut.WriteMillis(Buffer, expireMs);
        }
        if (idleSeconds >= 0)
        {
            Buffer.WriteByte(Rdb.OpIdle);
            RdbOut.WriteLen(Buffer, (ulong)idleSeconds);
        }
        if (freq >= 0)
        {
            Buffer.WriteByte(Rdb.OpFreq);
            Buffer.WriteByte((byte)freq);
        }
        Buffer.WriteByte(RdbSerializer.TypeOf(value));
        RdbOut.WriteString(Buffer, key, serializer.Compress);
        serializer.WriteValue(Buffer, value);
    }

    /// <summary>EOF and the checksum; drain once more afterwards (the checksum bytes are not folded into it).</summary>
    public void Finish()
    {
        if (finished) return;
        finished = true;
        Buffer.WriteByte(Rdb.OpEof);
        ulong sum = 0;
        if (checksum) sum = Crc64.Update(crc, Buffer.Span);
        // The checksum bytes themselves are not part of the sum: append them without folding them in.
        Buffer.WriteUInt64LE(sum);
        crcDone = true;
    }

    bool crcDone;

    /// <summary>DUMP's payload: type, value, RDB version (2 bytes LE), CRC64 of all that (8 bytes LE).</summary>
    public static byte[] CreateDumpPayload(object value, RdbSerializer serializer, ByteBuf buf)
    {
        buf.Clear();
        serializer.WriteObject(buf, value);
        buf.WriteUInt16LE(Rdb.Version);
        buf.WriteUInt64LE(Crc64.Compute(buf.Span));
        return buf.Span.ToArray();
    }

    /// <summary>verifyDumpPayload: at least 10 bytes, a version we read, and a matching CRC64.</summary>
    public static bool VerifyDumpPayload(ReadOnlySpan<byte> p)
    {
        if (p.Length < 10) return false;
        var footer = p[^10..];
        int version = BinaryPrimitives.ReadUInt16LittleEndian(footer);
        if (version > Rdb.Version) return false;
        ulong crc = Crc64.Compute(p[..^8]);
        return crc == BinaryPrimitives.ReadUInt64LittleEndian(footer[2..]);
    }
}

public readonly record struct ReplicationAux(int StreamDb, string ReplId, long Offset);

/// <summary>Where a loaded RDB file's contents go (the server, or a test).</summary>
public interface IRdbSink
{
    /// <summary>An AUX field (logged and interpreted by the sink).</summary>
    void Aux(byte[] key, byte[] value);
    /// <summary>A function library's code (FUNCTION2, or the fields of a 7.0-rc FUNCTION record).</summary>
    void Function(byte[] code);
    /// <summary>SELECTDB: false when the db does not exist.</summary>
    bool SelectDb(int db);
    void ResizeDb(ulong keys, ulong expires);
    /// <summary>A key was read and its value comes next (the server starts fetching where the key will go).</summary>
    void KeyRead(byte[] key) { }
    /// <summary>A key; idle seconds and the LFU counter are -1 when the file has none for it. Returns false when skipped as expired.</summary>
    bool Key(byte[] key, object value, long expireMs, long idleSeconds, int freq);
    /// <summary>A value that loaded as empty (skipped).</summary>
    void EmptyKey(byte[] key);
}

/// <summary>
/// rdbLoadRio: reads a whole RDB file (any version up to 10), every opcode, handing keys and metadata to a
/// sink. MODULE_AUX records and module values are refused (no modules). Verifies the trailing CRC64 unless it
/// is zero (rdbchecksum no) or checking is off.
/// </summary>
public static class RdbFileLoader
{
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Load(RdbReader r, IRdbSink sink, in LoadLimits limits, bool verifyChecksum)
    {
        var magic = r.ReadSpan(9);
        if (!magic[..5].SequenceEqual("REDIS"u8)) throw new RdbException("Wrong signature trying to load DB from file");
        int version = 0;
        for (int i = 5; i < 9; i++)
        {
            if (magic[i] < '0' || magic[i] > '9') throw new RdbException("Wrong signature trying to load DB from file");
            version = version * 10 + (magic[i] - '0');
        }
        if (version < 1 || version > Rdb.Version) throw new RdbException($"Can't handle RDB format version {version}");

        long expireMs = -1, idle = -1;
        int freq = -1;
        while (true)
        {
            int type = r.ReadByte();
            switch (type)
            {
                case Rdb.OpExpireTime:
                    expireMs = r.ReadSeconds() * 1000L;
                    continue;
                case Rdb.OpExpireTimeMs:
                    expireMs = r.ReadMillis();
                    continue;
                case Rdb.OpFreq:
                    freq = r.ReadByte();
                    continue;
                case Rdb.OpIdle:
                    idle = (long)r.ReadLen();
                    continue;
                case Rdb.OpEof:
                    break;
                case Rdb.OpSelectDb:
                {
                    ulong db = r.ReadLen();
                    if (db > int.MaxValue || !sink.SelectDb((int)db))
                        throw new RdbException($"FATAL: Data file was created with a Redis server configured to handle more than {db} databases. Exiting\n");
                    continue;
                }
                case Rdb.OpResizeDb:
                {
                    ulong keys = r.ReadLen(), expires = r.ReadLen();
                    sink.ResizeDb(keys, expires);
                    continue;
                }
                case Rdb.OpAux:
                {
                    var key = r.ReadString();
                    var value = r.ReadString();
                    sink.Aux(key, value);
                    continue;
                }
                case Rdb.OpModuleAux:
                {
                    ulong id = r.ReadLen();
                    throw new RdbException($"The RDB file contains AUX module data I can't load: no matching module '{RdbValueLoader.ModuleName(id)}'");
                }
                case Rdb.OpFunction2:
                    sink.Function(r.ReadString());
                    continue;
                case Rdb.OpFunction:
                {
                    // 7.0-rc1/rc2: name, engine, optional description, code
                    r.ReadString();
                    r.ReadString();
                    if (r.ReadLen() != 0) r.ReadString();
                    sink.Function(r.ReadString());
                    continue;
                }
                default:
                {
                    if (!Rdb.IsObjectType(type)) throw new RdbException($"Unknown RDB encoding type {type}");
                    var key = r.ReadString();
                    sink.KeyRead(key);
                    object value;
                    try
                    {
                        value = RdbValueLoader.Read(r, type, limits);
                    }
                    catch (RdbEmptyKeyException)
                    {
                        sink.EmptyKey(key);
                        expireMs = -1; idle = -1; freq = -1;
                        continue;
                    }
                    sink.Key(key, value, expireMs, idle, freq);
                    expireMs = -1; idle = -1; freq = -1;
                    continue;
                }
            }
            break;  // EOF
        }
        if (version >= 5)
        {
            ulong expected = r.Crc;
            ulong stored = BinaryPrimitives.ReadUInt64LittleEndian(r.ReadSpan(8));
            if (verifyChecksum && stored != 0 && stored != expected)
                throw new RdbException($"Wrong RDB checksum expected: ({expected:x}) got ({stored:x}). Aborting now.");
            ChecksumSkipped = stored == 0;
        }
    }

    [ThreadStatic] public static bool ChecksumSkipped;
}
