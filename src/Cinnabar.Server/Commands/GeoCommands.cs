using System.Numerics;
using Cinnabar.Server.Network;
using Cinnabar.Server.Storage;
using AddIn = Cinnabar.Server.Storage.ZSetValue.AddIn;

namespace Cinnabar.Server.Commands;

/// <summary>geo.c: points stored in sorted sets under 52-bit geohash scores; GEOADD, GEOPOS, GEODIST, GEOHASH,
/// GEOSEARCH(STORE) and the GEORADIUS family.</summary>
public static class GeoCommands
{
    public static void Register(CommandTable t)
    {
        t.Register("geoadd", GeoAdd);
        t.Register("geopos", GeoPos);
        t.Register("geodist", GeoDist);
        t.Register("geohash", GeoHashCommand);
        t.Register("georadius", c => Search(c, 1, SearchFlags.Coords));
        t.Register("georadius_ro", c => Search(c, 1, SearchFlags.Coords | SearchFlags.NoStore));
        t.Register("georadiusbymember", c => Search(c, 1, SearchFlags.Member));
        t.Register("georadiusbymember_ro", c => Search(c, 1, SearchFlags.Member | SearchFlags.NoStore));
        t.Register("geosearch", c => Search(c, 1, SearchFlags.Search));
        t.Register("geosearchstore", c => Search(c, 2, SearchFlags.Search | SearchFlags.SearchStore));
    }

    // ------------------------------------------------------------------ formatting

    /// <summary>C's "%.Nf" of the exact binary value, rounded half to even as glibc does.</summary>
    static string Fixed(double v, int decimals)
    {
        if (double.IsInfinity(v)) return v > 0 ? "inf" : "-inf";
        if (double.IsNaN(v)) return double.IsNegative(v) ? "-nan" : "nan";
        bool neg = double.IsNegative(v);
        long bits = BitConverter.DoubleToInt64Bits(Math.Abs(v));
        int exp = (int)((bits >> 52) & 0x7FF);
        ulong man = (ulong)bits & 0xFFFFFFFFFFFFFUL;
        if (exp == 0) exp = 1; else man |= 1UL << 52;
        exp -= 1075;
        var scaled = new BigInteger(man) * BigInteger.Pow(10, decimals);
        BigInteger q;
        if (exp >= 0) q = scaled << exp;
        else
        {
            var div = BigInteger.One << -exp;
            q = BigInteger.DivRem(scaled, div, out var rem);
            int c = (rem * 2).CompareTo(div);
            if (c > 0 || (c == 0 && !q.IsEven)) q += 1;
        }
        string digits = q.ToString(System.Globalization.CultureInfo.InvariantCulture).PadLeft(decimals + 1, '0');
        string s = decimals == 0 ? digits : digits[..^decimals] + "." + digits[^decimals..];
        return neg ? "-" + s : s;
    }

    /// <summary>ld2string(LD_STR_HUMAN) of a double: "%.17Lf" with trailing zeros and '.' removed, "-0" as "0".</summary>
    static string Human(double v)
    {
        string s = Fixed(v, 17).TrimEnd('0');
        if (s.EndsWith('.')) s = s[..^1];
        return s == "-0" ? "0" : s;
    }

    /// <summary>addReplyHumanLongDouble: a bulk string in RESP2, a double in RESP3.</summary>
    static void ReplyHuman(Client c, double v)
    {
        string s = Human(v);
        if (c.Reply.Resp3) { c.Reply.Raw(","u8); c.Reply.Raw(s); c.Reply.Crlf(); }
        else c.Reply.Bulk(s);
    }

    /// <summary>addReplyDoubleDistance: "%.4f".</summary>
    static void ReplyDistance(Client c, double d) => c.Reply.Bulk(Fixed(d, 4));

    // ------------------------------------------------------------------ argument helpers

    /// <summary>extractLongLatOrReply: two floats, then the range check with Redis's "%f,%f" message.</summary>
    static bool TryLonLat(Client c, int arg, out double lon, out double lat)
    {
        lat = 0;
        if (!SortedSetCommands.TryParseScore(c.Arg(arg), out lon) || !SortedSetCommands.TryParseScore(c.Arg(arg + 1), out lat))
        {
            c.NotFloat();
            return false;
        }
        if (lon < GeoHash.LonMin || lon > GeoHash.LonMax || lat < GeoHash.LatMin || lat > GeoHash.LatMax)
        {
            c.Error($"ERR invalid longitude,latitude pair {Fixed(lon, 6)},{Fixed(lat, 6)}");
            return false;
        }
        return true;
    }

    /// <summary>extractUnitOrReply: meters per unit, or -1 with the error sent.</summary>
    static double Unit(Client c, int arg)
    {
        var u = c.Arg(arg);
        if (Ascii.EqualsIgnoreCase(u, "m"u8)) return 1;
        if (Ascii.EqualsIgnoreCase(u, "km"u8)) return 1000;
        if (Ascii.EqualsIgnoreCase(u, "ft"u8)) return 0.3048;
        if (Ascii.EqualsIgnoreCase(u, "mi"u8)) return 1609.34;
        c.Error("ERR unsupported unit provided. please use M, KM, FT, MI");
        return -1;
    }

    static bool TryRadius(Client c, int arg, ref GeoShape s)
    {
        if (!SortedSetCommands.TryParseScore(c.Arg(arg), out double r)) { c.Error("ERR need numeric radius"); return false; }
        if (r < 0) { c.Error("ERR radius cannot be negative"); return false; }
        double conv = Unit(c, arg + 1);
        if (conv < 0) return false;
        s.IsBox = false;
        s.Radius = r;
        s.Conversion = conv;
        return true;
    }

    static bool TryBox(Client c, int arg, ref GeoShape s)
    {
        if (!SortedSetCommands.TryParseScore(c.Arg(arg), out double w)) { c.Error("ERR need numeric width"); return false; }
        if (!SortedSetCommands.TryParseScore(c.Arg(arg + 1), out double h)) { c.Error("ERR need numeric height"); return false; }
        if (h < 0 || w < 0) { c.Error("ERR height or width cannot be negative"); return false; }
        double conv = Unit(c, arg + 2);
        if (conv < 0) return false;
        s.IsBox = true;
        s.Width = w;
        s.Height = h;
        s.Conversion = conv;
        return true;
    }

    /// <summary>longLatFromMember: the decoded position of a member, false if it is not in the set.</summary>
    static bool MemberPosition(ZSetValue z, ReadOnlySpan<byte> member, out double lon, out double lat)
    {
        lon = lat = 0;
        return z.TryGetScore(member, out double score) && GeoHash.DecodeScore(score, out lon, out lat);
    }

    // ------------------------------------------------------------------ GEOADD, GEOPOS, GEODIST, GEOHASH

    static void GeoAdd(Client c)
    {
        bool xx = false, nx = false, ch = false;
        int longIdx = 2;
        while (longIdx < c.ArgCount)
        {
            if (c.ArgIs(longIdx, "nx")) nx = true;
            else if (c.ArgIs(longIdx, "xx")) xx = true;
            else if (c.ArgIs(longIdx, "ch")) ch = true;
            else break;
            longIdx++;
        }
        if ((c.ArgCount - longIdx) % 3 != 0 || (xx && nx)) { c.Syntax(); return; }
        int elements = (c.ArgCount - longIdx) / 3;
        if (elements == 0) { c.Syntax(); return; }   // what ZADD answers to no pairs
        var scores = new double[elements];
        for (int i = 0; i < elements; i++)
        {
            if (!TryLonLat(c, longIdx + i * 3, out double lon, out double lat)) return;
            GeoHash.EncodeWgs84(lon, lat, GeoHash.StepMax, out var hash);
            scores[i] = GeoHash.Align52(hash);
        }
        var flags = (nx ? AddIn.Nx : AddIn.None) | (xx ? AddIn.Xx : AddIn.None);
        if (c.Server.Prop.Enabled)
        {
            // GEOADD runs (and propagates) as "zadd key [options] score member ...", the score a 52-bit integer.
            var w = c.Server.Prop.Rewrite(longIdx + elements * 2);
            w.Bulk("zadd"u8);
            for (int i = 1; i < longIdx; i++) w.Bulk(c.Arg(i));
            for (int i = 0; i < elements; i++)
            {
                w.Bulk((long)scores[i]);
                w.Bulk(c.Arg(longIdx + i * 3 + 2));
            }
        }
        SortedSetCommands.ZAddApply(c, flags, ch, scores, longIdx + 2, 3);
    }

    static void GeoPos(Client c)
    {
        if (!SortedSetCommands.TryRead(c, c.Arg(1), out var z)) return;
        c.Reply.ArrayHeader(c.ArgCount - 2);
        for (int j = 2; j < c.ArgCount; j++)
        {
            if (z == null || !MemberPosition(z, c.Arg(j), out double lon, out double lat))
            {
                c.Reply.NullArray();
                continue;
            }
            c.Reply.ArrayHeader(2);
            ReplyHuman(c, lon);
            ReplyHuman(c, lat);
        }
    }

    static void GeoDist(Client c)
    {
        double toMeter = 1;
        if (c.ArgCount == 5)
        {
            toMeter = Unit(c, 4);
            if (toMeter < 0) return;
        }
        else if (c.ArgCount > 5) { c.Syntax(); return; }
        if (!SortedSetCommands.TryRead(c, c.Arg(1), out var z)) return;
        if (z == null || !z.TryGetScore(c.Arg(2), out double s1) || !z.TryGetScore(c.Arg(3), out double s2))
        {
            c.Reply.Null();
            return;
        }
        if (!GeoHash.DecodeScore(s1, out double lon1, out double lat1) || !GeoHash.DecodeScore(s2, out double lon2, out double lat2))
        {
            c.Reply.Null();
            return;
        }
        ReplyDistance(c, GeoHash.Distance(lon1, lat1, lon2, lat2) / toMeter);
    }

    const string GeoAlphabet = "0123456789bcdefghjkmnpqrstuvwxyz";

    static void GeoHashCommand(Client c)
    {
        if (!SortedSetCommands.TryRead(c, c.Arg(1), out var z)) return;
        c.Reply.ArrayHeader(c.ArgCount - 2);
        Span<byte> buf = stackalloc byte[11];
        for (int j = 2; j < c.ArgCount; j++)
        {
            if (z == null || !MemberPosition(z, c.Arg(j), out double lon, out double lat))
            {
                c.Reply.Null();
                continue;
            }
            // The stored hash uses latitude [-85,85]; the standard geohash string uses [-90,90].
            GeoHash.Encode(-180, 180, -90, 90, lon, lat, 26, out var hash);
            for (int i = 0; i < 11; i++)
            {
                int idx = i == 10 ? 0 : (int)((hash.Bits >> (52 - (i + 1) * 5)) & 0x1f);
                buf[i] = (byte)GeoAlphabet[idx];
            }
            c.Reply.Bulk(buf);
        }
    }

    // ------------------------------------------------------------------ GEOSEARCH and GEORADIUS

    [Flags]
    enum SearchFlags { Coords = 1, Member = 2, NoStore = 4, Search = 8, SearchStore = 16 }

    enum Sort { None, Asc, Desc }

    struct GeoPoint
    {
        public double Lon, Lat, Dist, Score;
        public byte[] Member;
    }

    /// <summary>georadiusGeneric.</summary>
    static void Search(Client c, int srcKeyIdx, SearchFlags flags)
    {
        var v = Keyspace.LookupRead(c, c.Arg(srcKeyIdx));
        var z = v as ZSetValue;
        if (v != null && z == null) { c.WrongType(); return; }
        int baseArgs;
        var shape = new GeoShape();
        byte[] storeKey = null;
        bool storeDist = false;
        if ((flags & SearchFlags.Coords) != 0)
        {
            baseArgs = 6;
            if (!TryLonLat(c, 2, out shape.Lon, out shape.Lat)) return;
            if (!TryRadius(c, 4, ref shape)) return;
        }
        else if ((flags & SearchFlags.Member) != 0 && z == null) baseArgs = 5;
        else if ((flags & SearchFlags.Member) != 0)
        {
            baseArgs = 5;
            if (!MemberPosition(z, c.Arg(2), out shape.Lon, out shape.Lat))
            {
                c.Error("ERR could not decode requested zset member");
                return;
            }
            if (!TryRadius(c, 3, ref shape)) return;
        }
        else
        {
            baseArgs = 2;
            if ((flags & SearchFlags.SearchStore) != 0)
            {
                baseArgs = 3;
                storeKey = c.ArgBytes(1);
            }
        }

        bool withDist = false, withHash = false, withCoords = false;
        bool fromMember = false, fromLoc = false, byRadius = false, byBox = false, any = false;
        var sort = Sort.None;
        long count = 0;
        bool search = (flags & SearchFlags.Search) != 0;
        bool storeAllowed = (flags & SearchFlags.NoStore) == 0 && !search;
        int remaining = c.ArgCount - baseArgs;
        for (int i = 0; i < remaining; i++)
        {
            int a = baseArgs + i;
            if (c.ArgIs(a, "withdist")) withDist = true;
            else if (c.ArgIs(a, "withhash")) withHash = true;
            else if (c.ArgIs(a, "withcoord")) withCoords = true;
            else if (c.ArgIs(a, "any")) any = true;
            else if (c.ArgIs(a, "asc")) sort = Sort.Asc;
            else if (c.ArgIs(a, "desc")) sort = Sort.Desc;
            else if (c.ArgIs(a, "count") && i + 1 < remaining)
            {
                if (!c.TryArgLong(a + 1, out count)) return;
                if (count <= 0) { c.Error("ERR COUNT must be > 0"); return; }
                i++;
            }
            else if (c.ArgIs(a, "store") && i + 1 < remaining && storeAllowed)
            {
                storeKey = c.ArgBytes(a + 1);
                storeDist = false;
                i++;
            }
            else if (c.ArgIs(a, "storedist") && i + 1 < remaining && storeAllowed)
            {
                storeKey = c.ArgBytes(a + 1);
                storeDist = true;
                i++;
            }
            else if (c.ArgIs(a, "storedist") && search && (flags & SearchFlags.SearchStore) != 0) storeDist = true;
            else if (c.ArgIs(a, "frommember") && i + 1 < remaining && search && !fromLoc)
            {
                if (z != null && !MemberPosition(z, c.Arg(a + 1), out shape.Lon, out shape.Lat))
                {
                    c.Error("ERR could not decode requested zset member");
                    return;
                }
                fromMember = true;
                i++;
            }
            else if (c.ArgIs(a, "fromlonlat") && i + 2 < remaining && search && !fromMember)
            {
                if (!TryLonLat(c, a + 1, out shape.Lon, out shape.Lat)) return;
                fromLoc = true;
                i += 2;
            }
            else if (c.ArgIs(a, "byradius") && i + 2 < remaining && search && !byBox)
            {
                if (!TryRadius(c, a + 1, ref shape)) return;
                byRadius = true;
                i += 2;
            }
            else if (c.ArgIs(a, "bybox") && i + 3 < remaining && search && !byRadius)
            {
                if (!TryBox(c, a + 1, ref shape)) return;
                byBox = true;
                i += 3;
            }
            else { c.Syntax(); return; }
        }

        if (storeKey != null && (withDist || withHash || withCoords))
        {
            c.Error(((flags & SearchFlags.SearchStore) != 0 ? "ERR GEOSEARCHSTORE" : "ERR STORE option in GEORADIUS") +
                    " is not compatible with WITHDIST, WITHHASH and WITHCOORD options");
            return;
        }
        if (search && !(fromMember || fromLoc))
        {
            c.Error("ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for " + c.ArgString(0));
            return;
        }
        if (search && !(byRadius || byBox))
        {
            c.Error("ERR exactly one of BYRADIUS and BYBOX can be specified for " + c.ArgString(0));
            return;
        }
        if (any && count == 0) { c.Error("ERR the ANY argument requires COUNT argument"); return; }

        if (z == null)
        {
            if (storeKey != null) SortedSetCommands.FinishStore(c, storeKey, null, "");
            else c.Reply.EmptyArray();
            return;
        }
        if (count != 0 && sort == Sort.None && !any) sort = Sort.Asc;

        var points = new List<GeoPoint>();
        Collect(z, ref shape, points, any ? count : 0);
        if (points.Count == 0 && storeKey == null) { c.Reply.EmptyArray(); return; }

        var arr = points.ToArray();
        long resultLength = arr.Length;
        long returned = count == 0 || resultLength < count ? resultLength : count;
        if (sort != Sort.None)
        {
            Comparison<GeoPoint> cmp = sort == Sort.Asc ? CompareAsc : (a, b) => -CompareAsc(a, b);
            if (returned == resultLength) CSort.Qsort(arr, arr.Length, cmp);
            else CSort.Pqsort(arr, arr.Length, cmp, 0, returned - 1);
        }

        if (storeKey == null)
        {
            int options = (withDist ? 1 : 0) + (withCoords ? 1 : 0) + (withHash ? 1 : 0);
            c.Reply.ArrayHeader(returned);
            for (int i = 0; i < returned; i++)
            {
                ref var gp = ref arr[i];
                if (options > 0) c.Reply.ArrayHeader(options + 1);
                c.Reply.Bulk(gp.Member);
                if (withDist) ReplyDistance(c, gp.Dist / shape.Conversion);
                if (withHash) c.Reply.Integer((long)gp.Score);
                if (withCoords)
                {
                    c.Reply.ArrayHeader(2);
                    ReplyHuman(c, gp.Lon);
                    ReplyHuman(c, gp.Lat);
                }
            }
            return;
        }

        ZSetValue result = null;
        if (returned > 0)
        {
            result = ZSetValue.NewSkiplist();
            long maxLen = 0;
            for (int i = 0; i < returned; i++)
            {
                ref var gp = ref arr[i];
                result.InsertNew(gp.Member, storeDist ? gp.Dist / shape.Conversion : gp.Score);
                if (gp.Member.Length > maxLen) maxLen = gp.Member.Length;
            }
            var st = c.Server.Settings;
            result.ConvertToListpackIfNeeded(st.ZsetMaxListpackEntries, st.ZsetMaxListpackValue, maxLen);
        }
        SortedSetCommands.FinishStore(c, storeKey, result, search ? "geosearchstore" : "georadiusstore");
    }

    /// <summary>membersOfAllNeighbors: the members of the nine cells that lie inside the shape, in discovery order.</summary>
    static void Collect(ZSetValue z, ref GeoShape shape, List<GeoPoint> points, long limit)
    {
        var cells = GeoHash.AreasByShape(ref shape);
        int lastProcessed = 0;
        for (int i = 0; i < cells.Length; i++)
        {
            if (cells[i].IsZero) continue;
            if (lastProcessed != 0 && cells[i].Bits == cells[lastProcessed].Bits && cells[i].Step == cells[lastProcessed].Step) continue;
            if (points.Count > 0 && limit != 0 && points.Count >= limit) break;
            GeoHash.ScoreRange(cells[i], out double min, out double max);
            var range = new ScoreRange { Min = min, Max = max, MaxEx = true };
            for (var p = z.FirstInRange(range); z.Valid(p); z.Next(ref p))
            {
                double score = z.ScoreAt(p);
                if (!range.LteMax(score)) break;
                if (GeoHash.DecodeScore(score, out double lon, out double lat) && GeoHash.Within(shape, lon, lat, out double dist))
                    points.Add(new GeoPoint { Lon = lon, Lat = lat, Dist = dist, Score = score, Member = z.MemberAt(p) });
                if (points.Count > 0 && limit != 0 && points.Count >= limit) break;
            }
            lastProcessed = i;
        }
    }

    /// <summary>sort_gp_asc: by distance; equal (and unordered) distances compare as Redis's comparator does.</summary>
    static int CompareAsc(GeoPoint a, GeoPoint b) => a.Dist > b.Dist ? 1 : a.Dist == b.Dist ? 0 : -1;
}
