namespace Cinnabar.Server.Storage;

/// <summary>A geohash cell: interleaved bits (longitude bits at odd positions) and the precision in steps.</summary>
public struct GeoHashBits
{
    public ulong Bits;
    public int Step;
    public readonly bool IsZero => Bits == 0 && Step == 0;
}

public struct GeoArea
{
    public double LonMin, LonMax, LatMin, LatMax;
}

/// <summary>The area a GEOSEARCH/GEORADIUS looks at: a circle or an axis-aligned box around a point.</summary>
public struct GeoShape
{
    public bool IsBox;
    public double Lon, Lat;
    public double Conversion;       // meters per unit
    public double Radius;           // in units
    public double Width, Height;    // in units
    public double MinLon, MinLat, MaxLon, MaxLat;
}

/// <summary>
/// Redis's geohash (geohash.c, geohash_helper.c as of 7.0): 26 steps per axis interleaved into a 52-bit
/// sorted set score over longitude [-180,180] and latitude [-85.05112878,85.05112878]; the nine-cell search
/// around a point; the haversine distance with Redis's earth radius.
/// </summary>
public static class GeoHash
{
    public const int StepMax = 26;
    public const double LatMin = -85.05112878, LatMax = 85.05112878;
    public const double LonMin = -180, LonMax = 180;
    public const double EarthRadius = 6372797.560856;
    const double MercatorMax = 20037726.37;
    const double DToR = Math.PI / 180.0;

    static double DegRad(double a) => a * DToR;
    static double RadDeg(double a) => a / DToR;

    static ulong Interleave(uint xlo, uint ylo)
    {
        ulong x = xlo, y = ylo;
        x = (x | (x << 16)) & 0x0000FFFF0000FFFFUL;
        y = (y | (y << 16)) & 0x0000FFFF0000FFFFUL;
        x = (x | (x << 8)) & 0x00FF00FF00FF00FFUL;
        y = (y | (y << 8)) & 0x00FF00FF00FF00FFUL;
        x = (x | (x << 4)) & 0x0F0F0F0F0F0F0F0FUL;
        y = (y | (y << 4)) & 0x0F0F0F0F0F0F0F0FUL;
        x = (x | (x << 2)) & 0x3333333333333333UL;
        y = (y | (y << 2)) & 0x3333333333333333UL;
        x = (x | (x << 1)) & 0x5555555555555555UL;
        y = (y | (y << 1)) & 0x5555555555555555UL;
        return x | (y << 1);
    }

    /// <summary>Even bits to the low word (latitude), odd bits to the high word (longitude).</summary>
    static ulong Deinterleave(ulong v)
    {
        ulong x = v & 0x5555555555555555UL, y = (v >> 1) & 0x5555555555555555UL;
        x = (x | (x >> 1)) & 0x3333333333333333UL;
        y = (y | (y >> 1)) & 0x3333333333333333UL;
        x = (x | (x >> 2)) & 0x0F0F0F0F0F0F0F0FUL;
        y = (y | (y >> 2)) & 0x0F0F0F0F0F0F0F0FUL;
        x = (x | (x >> 4)) & 0x00FF00FF00FF00FFUL;
        y = (y | (y >> 4)) & 0x00FF00FF00FF00FFUL;
        x = (x | (x >> 8)) & 0x0000FFFF0000FFFFUL;
        y = (y | (y >> 8)) & 0x0000FFFF0000FFFFUL;
        x = (x | (x >> 16)) & 0x00000000FFFFFFFFUL;
        y = (y | (y >> 16)) & 0x00000000FFFFFFFFUL;
        return x | (y << 32);
    }

    /// <summary>C's double-to-uint32 conversion for the in-range offsets geohashEncode produces.</summary>
    static uint ToUInt32(double d) => (uint)(long)d;

    public static bool Encode(double lonMin, double lonMax, double latMin, double latMax, double lon, double lat, int step, out GeoHashBits hash)
    {
        hash = default;
        if (step > 32 || step == 0) return false;
        if (lon > LonMax || lon < LonMin || lat > LatMax || lat < LatMin) return false;
        hash.Step = step;
        if (lat < latMin || lat > latMax || lon < lonMin || lon > lonMax) return false;
        double latOffset = (lat - latMin) / (latMax - latMin);
        double lonOffset = (lon - lonMin) / (lonMax - lonMin);
        latOffset *= 1UL << step;
        lonOffset *= 1UL << step;
        hash.Bits = Interleave(ToUInt32(latOffset), ToUInt32(lonOffset));
        return true;
    }

    public static bool EncodeWgs84(double lon, double lat, int step, out GeoHashBits hash) =>
        Encode(LonMin, LonMax, LatMin, LatMax, lon, lat, step, out hash);

    public static bool Decode(GeoHashBits hash, out GeoArea area)
    {
        area = default;
        if (hash.IsZero) return false;
        int step = hash.Step;
        ulong sep = Deinterleave(hash.Bits);
        double latScale = LatMax - LatMin, lonScale = LonMax - LonMin;
        uint ilat = (uint)sep, ilon = (uint)(sep >> 32);
        double div = 1UL << step;
        area.LatMin = LatMin + (ilat * 1.0 / div) * latScale;
        area.LatMax = LatMin + ((ilat + 1UL) * 1.0 / div) * latScale;
        area.LonMin = LonMin + (ilon * 1.0 / div) * lonScale;
        area.LonMax = LonMin + ((ilon + 1UL) * 1.0 / div) * lonScale;
        return true;
    }

    /// <summary>The centre of a cell, clamped to the valid ranges.</summary>
    public static bool DecodeToLonLat(GeoHashBits hash, out double lon, out double lat)
    {
        lon = lat = 0;
        if (!Decode(hash, out var a)) return false;
        lon = (a.LonMin + a.LonMax) / 2;
        if (lon > LonMax) lon = LonMax;
        if (lon < LonMin) lon = LonMin;
        lat = (a.LatMin + a.LatMax) / 2;
        if (lat > LatMax) lat = LatMax;
        if (lat < LatMin) lat = LatMin;
        return true;
    }

    /// <summary>decodeGeohash: a sorted set score read as 52 bits (C's (uint64_t) cast on x86-64).</summary>
    public static bool DecodeScore(double score, out double lon, out double lat) =>
        DecodeToLonLat(new GeoHashBits { Bits = CastToUInt64(score), Step = StepMax }, out lon, out lat);

    static ulong CastToUInt64(double v)
    {
        const double two63 = 9223372036854775808.0;
        if (double.IsNaN(v)) return 0x8000000000000000UL;
        if (v < two63) return v >= -two63 ? (ulong)(long)v : 0x8000000000000000UL;
        double w = v - two63;
        return w < two63 ? (ulong)(long)w ^ 0x8000000000000000UL : 0;
    }

    /// <summary>The score GEOADD stores: the 26-step hash aligned to 52 bits.</summary>
    public static ulong Align52(GeoHashBits h) => h.Bits << (52 - h.Step * 2);

    static void MoveX(ref GeoHashBits h, int d)
    {
        if (d == 0) return;
        ulong x = h.Bits & 0xaaaaaaaaaaaaaaaaUL;
        ulong y = h.Bits & 0x5555555555555555UL;
        ulong zz = 0x5555555555555555UL >> (64 - h.Step * 2);
        if (d > 0) x += zz + 1;
        else
        {
            x |= zz;
            x -= zz + 1;
        }
        x &= 0xaaaaaaaaaaaaaaaaUL >> (64 - h.Step * 2);
        h.Bits = x | y;
    }

    static void MoveY(ref GeoHashBits h, int d)
    {
        if (d == 0) return;
        ulong x = h.Bits & 0xaaaaaaaaaaaaaaaaUL;
        ulong y = h.Bits & 0x5555555555555555UL;
        ulong zz = 0xaaaaaaaaaaaaaaaaUL >> (64 - h.Step * 2);
        if (d > 0) y += zz + 1;
        else
        {
            y |= zz;
            y -= zz + 1;
        }
        y &= 0x5555555555555555UL >> (64 - h.Step * 2);
        h.Bits = x | y;
    }

    static GeoHashBits Moved(GeoHashBits h, int dx, int dy)
    {
        MoveX(ref h, dx);
        MoveY(ref h, dy);
        return h;
    }

    /// <summary>geohashEstimateStepsByRadius.</summary>
    static int EstimateSteps(double rangeMeters, double lat)
    {
        if (rangeMeters == 0) return 26;
        int step = 1;
        while (rangeMeters < MercatorMax)
        {
            rangeMeters *= 2;
            step++;
        }
        step -= 2;
        if (lat > 66 || lat < -66)
        {
            step--;
            if (lat > 80 || lat < -80) step--;
        }
        if (step < 1) step = 1;
        if (step > 26) step = 26;
        return step;
    }

    /// <summary>geohashBoundingBox: the lon/lat bounds of the search area (edges bend with latitude).</summary>
    static void BoundingBox(ref GeoShape s)
    {
        double height = s.Conversion * (s.IsBox ? s.Height / 2 : s.Radius);
        double width = s.Conversion * (s.IsBox ? s.Width / 2 : s.Radius);
        double latDelta = RadDeg(height / EarthRadius);
        double lonDeltaTop = RadDeg(width / EarthRadius / Math.Cos(DegRad(s.Lat + latDelta)));
        double lonDeltaBottom = RadDeg(width / EarthRadius / Math.Cos(DegRad(s.Lat - latDelta)));
        bool southern = s.Lat < 0;
        s.MinLon = southern ? s.Lon - lonDeltaBottom : s.Lon - lonDeltaTop;
        s.MaxLon = southern ? s.Lon + lonDeltaBottom : s.Lon + lonDeltaTop;
        s.MinLat = s.Lat - latDelta;
        s.MaxLat = s.Lat + latDelta;
    }

    /// <summary>
    /// geohashCalculateAreasByShapeWGS84: the centre cell and its eight neighbours, in the order Redis
    /// searches them (centre, N, S, E, W, NE, NW, SE, SW); cells that cannot hold results are zero.
    /// </summary>
    public static GeoHashBits[] AreasByShape(ref GeoShape s)
    {
        BoundingBox(ref s);
        double radiusMeters = s.IsBox
            ? Math.Sqrt(s.Width / 2 * (s.Width / 2) + s.Height / 2 * (s.Height / 2))
            : s.Radius;
        radiusMeters *= s.Conversion;
        int steps = EstimateSteps(radiusMeters, s.Lat);
        EncodeWgs84(s.Lon, s.Lat, steps, out var hash);
        var n = Neighbors(hash);
        Decode(hash, out var area);

        bool decrease = false;
        Decode(n[1], out var north);
        Decode(n[2], out var south);
        Decode(n[3], out var east);
        Decode(n[4], out var west);
        if (north.LatMax < s.MaxLat) decrease = true;
        if (south.LatMin > s.MinLat) decrease = true;
        if (east.LonMax < s.MaxLon) decrease = true;
        if (west.LonMin > s.MinLon) decrease = true;
        if (steps > 1 && decrease)
        {
            steps--;
            EncodeWgs84(s.Lon, s.Lat, steps, out hash);
            n = Neighbors(hash);
            Decode(hash, out area);
        }
        if (steps >= 2)
        {
            if (area.LatMin < s.MinLat) { n[2] = default; n[8] = default; n[7] = default; }
            if (area.LatMax > s.MaxLat) { n[1] = default; n[5] = default; n[6] = default; }
            if (area.LonMin < s.MinLon) { n[4] = default; n[8] = default; n[6] = default; }
            if (area.LonMax > s.MaxLon) { n[3] = default; n[7] = default; n[5] = default; }
        }
        return n;
    }

    /// <summary>[centre, north, south, east, west, north-east, north-west, south-east, south-west].</summary>
    static GeoHashBits[] Neighbors(GeoHashBits h) => new[]
    {
        h,
        Moved(h, 0, 1),
        Moved(h, 0, -1),
        Moved(h, 1, 0),
        Moved(h, -1, 0),
        Moved(h, 1, 1),
        Moved(h, -1, 1),
        Moved(h, 1, -1),
        Moved(h, -1, -1),
    };

    /// <summary>The scores [min, max) of the members inside a cell.</summary>
    public static void ScoreRange(GeoHashBits h, out double min, out double max)
    {
        min = Align52(h);
        h.Bits++;
        max = Align52(h);
    }

    /// <summary>Haversine great-circle distance in meters (Redis 7.0's geohashGetDistance).</summary>
    public static double Distance(double lon1, double lat1, double lon2, double lat2)
    {
        double lat1r = DegRad(lat1), lon1r = DegRad(lon1), lat2r = DegRad(lat2), lon2r = DegRad(lon2);
        double u = Math.Sin((lat2r - lat1r) / 2);
        double v = Math.Sin((lon2r - lon1r) / 2);
        return 2.0 * EarthRadius * Math.Asin(Math.Sqrt(u * u + Math.Cos(lat1r) * Math.Cos(lat2r) * v * v));
    }

    /// <summary>geoWithinShape's test of one decoded point; distance is from the shape's centre.</summary>
    public static bool Within(in GeoShape s, double lon, double lat, out double distance)
    {
        if (!s.IsBox)
        {
            distance = Distance(s.Lon, s.Lat, lon, lat);
            return !(distance > s.Radius * s.Conversion);
        }
        distance = 0;
        double lonDistance = Distance(lon, lat, s.Lon, lat);
        double latDistance = Distance(lon, lat, lon, s.Lat);
        if (lonDistance > s.Width * s.Conversion / 2 || latDistance > s.Height * s.Conversion / 2) return false;
        distance = Distance(s.Lon, s.Lat, lon, lat);
        return true;
    }
}
