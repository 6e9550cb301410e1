namespace Cinnabar.Server.Storage;

/// <summary>
/// Redis's access stamps: a 24-bit LRU clock in seconds, or for LFU policies a 16-bit "last decrement
/// time" in minutes plus an 8-bit logarithmic counter (evict.c LFULogIncr / LFUDecrAndReturn).
/// </summary>
public static class Lfu
{
    const int InitVal = 5;
    const uint LruMax = (1 << 24) - 1;

    static uint Minutes => (uint)(Clock.NowMs / 1000 / 60) & 65535;

    public static uint NewWord() => (Minutes << 8) | InitVal;

    static ulong TimeElapsed(uint ldt)
    {
        uint now = Minutes;
        return now >= ldt ? now - ldt : 65535 - ldt + now;
    }

    public static int Counter(uint word, int decayTime)
    {
        uint ldt = word >> 8;
        int counter = (int)(word & 255);
        ulong periods = decayTime > 0 ? TimeElapsed(ldt) / (ulong)decayTime : 0;
        if (periods > 0) counter = periods > (ulong)counter ? 0 : counter - (int)periods;
        return counter;
    }

    public static uint Touch(uint word, int logFactor, int decayTime)
    {
        int counter = Counter(word, decayTime);
        if (counter < 255)
        {
            double r = Random.Shared.NextDouble();
            double baseval = Math.Max(0, counter - InitVal);
            double p = 1.0 / (baseval * logFactor + 1);
            if (r < p) counter++;
        }
        return (Minutes << 8) | (uint)counter;
    }

    /// <summary>estimateObjectIdleTime: ms since the stamp, on the wrapping 24-bit seconds clock.</summary>
    public static long LruIdleMs(uint stamp)
    {
        uint now = Clock.LruClock;
        return now >= stamp ? (long)(now - stamp) * 1000 : (long)(LruMax - stamp + now) * 1000;
    }
}
