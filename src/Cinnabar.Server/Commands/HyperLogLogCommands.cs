using Cinnabar.Server.Network;
using Cinnabar.Server.Storage;

namespace Cinnabar.Server.Commands;

/// <summary>
/// hyperloglog.c: PFADD, PFCOUNT, PFMERGE, PFSELFTEST, PFDEBUG. An HLL is an ordinary string value (see
/// <see cref="HyperLogLog"/> for its bytes); every command that touches one first turns it into a mutable
/// raw string as Redis's dbUnshareStringValue does, so OBJECT ENCODING reports "raw" afterwards.
/// </summary>
public static class HyperLogLogCommands
{
    const string InvalidHll = "WRONGTYPE Key is not a valid HyperLogLog string value.";
    const string Corrupted = "INVALIDOBJ Corrupted HLL object detected";

    public static void Register(CommandTable t)
    {
        t.Register("pfadd", PfAdd);
        t.Register("pfcount", PfCount);
        t.Register("pfmerge", PfMerge);
        t.Register("pfselftest", PfSelfTest);
        t.Register("pfdebug", PfDebug);
    }

    /// <summary>isHLLObjectOrReply: the type check, then the header checks. False with the error sent.</summary>
    static bool CheckHll(Client c, object v)
    {
        if (!Values.IsString(v)) { c.WrongType(); return false; }
        if (!HyperLogLog.IsValid(Values.StringBytes(v))) { c.Error(InvalidHll); return false; }
        return true;
    }

    /// <summary>Finds a key for writing (lookupKeyWrite: stamps access, no hit/miss counting). -1 when absent.</summary>
    static int FindWrite(Db db, ReadOnlySpan<byte> key)
    {
        int index = db.Find(key);
        if (index >= 0) db.Touch(ref db.Table.At(index));
        return index;
    }

    /// <summary>Finds a key for reading (lookupKeyRead: stamps access and counts a hit or a miss).</summary>
    static int FindRead(Client c, ReadOnlySpan<byte> key)
    {
        int index = FindWrite(c.Db, key);
        if (index < 0) c.Server.Stats.KeyspaceMisses++;
        else c.Server.Stats.KeyspaceHits++;
        return index;
    }

    static Span<byte> DenseRegisters(RawString o) => o.Buffer.AsSpan(HyperLogLog.HeaderSize, HyperLogLog.DenseSize - HyperLogLog.HeaderSize);

    /// <summary>PFADD key [element ...]: 1 when the key was created or a register changed.</summary>
    static void PfAdd(Client c)
    {
        var db = c.Db;
        var key = c.Arg(1);
        int index = FindWrite(db, key);
        int updated = 0;
        RawString o;
        if (index < 0)
        {
            o = HyperLogLog.CreateEmpty();
            db.Add(c.ArgBytes(1), o);
            updated++;
        }
        else
        {
            if (!CheckHll(c, db.Table.At(index).Value)) return;
            o = StringCommands.Unshare(db, index, 0);
        }
        long before = Values.Cost(o);
        long maxBytes = c.Server.Settings.HllSparseMaxBytes;
        int argc = c.ArgCount;
        for (int j = 2; j < argc; j++)
        {
            int r = HyperLogLog.Add(o, c.Arg(j), maxBytes);
            if (r == 1) updated++;
            else if (r < 0)
            {
                db.Resized(before, o);
                c.Error(Corrupted);
                return;
            }
        }
        db.Resized(before, o);
        if (updated > 0)
        {
            c.Server.KeyModified(db, key);
            c.Server.Notify(Config.KeyspaceEvents.String, "pfadd", key, db.Id);
            c.Server.Dirty(updated);
            HyperLogLog.InvalidateCache(o.Buffer);
        }
        c.Reply.Integer(updated > 0 ? 1 : 0);
    }

    /// <summary>
    /// PFCOUNT key [key ...]. One key: the cached cardinality, or a fresh estimate written back into the
    /// header (a modification: WATCH sees it and it counts as dirty). Several keys: the estimate of their
    /// union, merged into a scratch register array and never stored.
    /// </summary>
    static void PfCount(Client c)
    {
        var db = c.Db;
        if (c.ArgCount > 2)
        {
            Span<byte> max = stackalloc byte[HyperLogLog.Registers];
            max.Clear();
            for (int j = 1; j < c.ArgCount; j++)
            {
                int i = FindRead(c, c.Arg(j));
                if (i < 0) continue;
                var v = db.Table.At(i).Value;
                if (!CheckHll(c, v)) return;
                if (!HyperLogLog.Merge(max, Values.StringBytes(v), HyperLogLog.PastEnd(v)))
                {
                    c.Error(Corrupted);
                    return;
                }
            }
            c.Reply.Integer(unchecked((long)HyperLogLog.CountRaw(max)));
            return;
        }

        var key = c.Arg(1);
        int index = FindRead(c, key);
        if (index < 0) { c.Reply.Integer(0); return; }
        if (!CheckHll(c, db.Table.At(index).Value)) return;
        var o = StringCommands.Unshare(db, index, 0);
        var s = o.Span;
        ulong card;
        if (HyperLogLog.IsCacheValid(s))
        {
            card = HyperLogLog.CachedCardinality(s);
        }
        else
        {
            bool invalid = false;
            card = HyperLogLog.Count(s, HyperLogLog.PastEnd(o), ref invalid);
            if (invalid) { c.Error(Corrupted); return; }
            HyperLogLog.SetCachedCardinality(s, card);
            Keyspace.Modified(c, key);
        }
        c.Reply.Integer(unchecked((long)card));
    }

    /// <summary>PFMERGE destkey [sourcekey ...]: the register-wise maximum of every HLL, stored in destkey.</summary>
    static void PfMerge(Client c)
    {
        var db = c.Db;
        Span<byte> max = stackalloc byte[HyperLogLog.Registers];
        max.Clear();
        bool useDense = false;
        for (int j = 1; j < c.ArgCount; j++)
        {
            int i = FindRead(c, c.Arg(j));
            if (i < 0) continue;
            var v = db.Table.At(i).Value;
            if (!CheckHll(c, v)) return;
            var s = Values.StringBytes(v);
            if (s[4] == HyperLogLog.EncodingDense) useDense = true;
            if (!HyperLogLog.Merge(max, s, HyperLogLog.PastEnd(v)))
            {
                c.Error(Corrupted);
                return;
            }
        }

        var key = c.Arg(1);
        int index = FindWrite(db, key);
        RawString o;
        if (index < 0)
        {
            o = HyperLogLog.CreateEmpty();
            db.Add(c.ArgBytes(1), o);
        }
        else
        {
            o = StringCommands.Unshare(db, index, 0);
        }
        long before = Values.Cost(o);
        if (useDense && !HyperLogLog.SparseToDense(o))
        {
            db.Resized(before, o);
            c.Error(Corrupted);
            return;
        }
        long maxBytes = c.Server.Settings.HllSparseMaxBytes;
        for (int j = 0; j < HyperLogLog.Registers; j++)
        {
            if (o.Buffer[4] == HyperLogLog.EncodingDense)
            {
                // Dense (from the start, or promoted part-way): raise the remaining registers in one pass.
                HyperLogLog.DenseMergeFrom(DenseRegisters(o), max);
                break;
            }
            if (max[j] != 0) HyperLogLog.SparseSet(o, j, max[j], maxBytes);
        }
        HyperLogLog.InvalidateCache(o.Buffer);
        db.Resized(before, o);
        // Redis reports a merge as "pfadd": semantically it is a mass add.
        Keyspace.Modified(c, key, Config.KeyspaceEvents.String, "pfadd");
        c.Reply.Ok();
    }

    /// <summary>
    /// PFSELFTEST: register packing round-trips random values, then 10 million elements go into a dense and
    /// a sparse HLL side by side, checking at 1, 10, 100... that sparse stays sparse while small, that both
    /// estimate the same, and that the error stays within six standard errors.
    /// </summary>
    static void PfSelfTest(Client c)
    {
        var rng = Random.Shared;
        var dense = new byte[HyperLogLog.DenseSize];
        var regs = dense.AsSpan(HyperLogLog.HeaderSize);
        var bytes = new byte[HyperLogLog.Registers];
        for (int cycle = 0; cycle < 1000; cycle++)
        {
            for (int i = 0; i < HyperLogLog.Registers; i++)
            {
                int r = rng.Next() & HyperLogLog.RegisterMax;
                bytes[i] = (byte)r;
                HyperLogLog.DenseWrite(regs, i, r);
            }
            for (int i = 0; i < HyperLogLog.Registers; i++)
            {
                int val = HyperLogLog.DenseGet(regs, i);
                if (val != bytes[i])
                {
                    c.Error($"TESTFAILED Register {i} should be {bytes[i]} but is {val}");
                    return;
                }
            }
        }

        regs.Clear();
        "HYLL"u8.CopyTo(dense);
        var o = HyperLogLog.CreateEmpty();
        long maxBytes = c.Server.Settings.HllSparseMaxBytes;
        double relerr = 1.04 / Math.Sqrt(HyperLogLog.Registers);
        long checkpoint = 1;
        ulong seed = (ulong)rng.NextInt64();
        Span<byte> ele = stackalloc byte[8];
        for (long j = 1; j <= 10_000_000; j++)
        {
            System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(ele, (ulong)j ^ seed);
            int count = HyperLogLog.PatternLength(ele, out int index);
            HyperLogLog.DenseSet(regs, index, count);
            HyperLogLog.Add(o, ele, maxBytes);
            if (j != checkpoint) continue;
            if (j < maxBytes / 2 && o.Buffer[4] != HyperLogLog.EncodingSparse)
            {
                c.Error("TESTFAILED sparse encoding not used");
                return;
            }
            bool invalid = false;
            ulong denseCount = HyperLogLog.Count(dense, 0, ref invalid);
            if (denseCount != HyperLogLog.Count(o.Span, HyperLogLog.PastEnd(o), ref invalid))
            {
                c.Error("TESTFAILED dense/sparse disagree");
                return;
            }
            long abserr = Math.Abs(checkpoint - (long)denseCount);
            ulong maxerr = (ulong)Math.Ceiling(relerr * 6 * checkpoint);
            if (j == 10) maxerr = 1;
            if ((ulong)abserr > maxerr)
            {
                c.Error($"TESTFAILED Too big error. card:{checkpoint} abserr:{abserr}");
                return;
            }
            checkpoint *= 10;
        }
        c.Reply.Ok();
    }

    /// <summary>PFDEBUG GETREG|DECODE|ENCODING|TODENSE key. The key is checked before the subcommand.</summary>
    static void PfDebug(Client c)
    {
        var db = c.Db;
        int index = FindWrite(db, c.Arg(2));
        if (index < 0) { c.Error("ERR The specified key does not exist"); return; }
        if (!CheckHll(c, db.Table.At(index).Value)) return;
        var o = StringCommands.Unshare(db, index, 0);
        long before = Values.Cost(o);
        if (c.ArgIs(1, "getreg"))
        {
            if (o.Buffer[4] == HyperLogLog.EncodingSparse)
            {
                if (!HyperLogLog.SparseToDense(o)) { c.Error(Corrupted); return; }
                db.Resized(before, o);
                c.Server.Dirty();
            }
            var regs = DenseRegisters(o);
            c.Reply.ArrayHeader(HyperLogLog.Registers);
            for (int j = 0; j < HyperLogLog.Registers; j++) c.Reply.Integer(HyperLogLog.DenseGet(regs, j));
        }
        else if (c.ArgIs(1, "decode"))
        {
            if (o.Buffer[4] != HyperLogLog.EncodingSparse) { c.Error("ERR HLL encoding is not sparse"); return; }
            c.Reply.Bulk(HyperLogLog.Decode(o.Span, HyperLogLog.PastEnd(o)));
        }
        else if (c.ArgIs(1, "encoding"))
        {
            c.Reply.Simple(o.Buffer[4] == HyperLogLog.EncodingDense ? "dense" : "sparse");
        }
        else if (c.ArgIs(1, "todense"))
        {
            bool converted = false;
            if (o.Buffer[4] == HyperLogLog.EncodingSparse)
            {
                if (!HyperLogLog.SparseToDense(o)) { c.Error(Corrupted); return; }
                db.Resized(before, o);
                converted = true;
                c.Server.Dirty();
            }
            c.Reply.Integer(converted ? 1 : 0);
        }
        else
        {
            // addReplyErrorFormat: the name is a C string (ends at a NUL) with newlines turned into spaces.
            string sub = c.ArgString(1);
            int nul = sub.IndexOf('\0');
            if (nul >= 0) sub = sub[..nul];
            c.Error($"ERR Unknown PFDEBUG subcommand '{sub.Replace('\r', ' ').Replace('\n', ' ')}'");
        }
    }
}
