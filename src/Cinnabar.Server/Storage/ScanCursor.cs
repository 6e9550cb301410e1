namespace Cinnabar.Server.Storage;

/// <summary>
/// Redis's SCAN cursor (dictScan): buckets are visited in reverse-binary order, so a scan that spans a
/// table resize still visits every element that was present for the whole scan.
/// </summary>
public static class ScanCursor
{
    /// <summary>The cursor after the bucket <paramref name="cursor"/> names, for a table of mask + 1 buckets.</summary>
    public static ulong Next(ulong cursor, ulong mask)
    {
        cursor |= ~mask;
        cursor = ReverseBits(cursor);
        cursor++;
        return ReverseBits(cursor);
    }

    static ulong ReverseBits(ulong v)
    {
        v = ((v >> 1) & 0x5555555555555555UL) | ((v & 0x5555555555555555UL) << 1);
        v = ((v >> 2) & 0x3333333333333333UL) | ((v & 0x3333333333333333UL) << 2);
        v = ((v >> 4) & 0x0F0F0F0F0F0F0F0FUL) | ((v & 0x0F0F0F0F0F0F0F0FUL) << 4);
        v = ((v >> 8) & 0x00FF00FF00FF00FFUL) | ((v & 0x00FF00FF00FF00FFUL) << 8);
        v = ((v >> 16) & 0x0000FFFF0000FFFFUL) | ((v & 0x0000FFFF0000FFFFUL) << 16);
        return (v >> 32) | (v << 32);
    }
}
