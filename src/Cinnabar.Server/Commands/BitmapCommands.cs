namespace Cinnabar.Server.Commands;

/// <summary>bitops.c: SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD, BITFIELD_RO.</summary>
public static partial class BitmapCommands
{
    public static void Register(CommandTable t)
    {
    }
}
